using System.Buffers.Binary;

namespace AmpCan.VirtioCan.Wire;

/// <summary>
/// The 16-byte header shared by <c>struct virtio_can_tx_out</c> and <c>struct virtio_can_rx</c> (all little-endian):
/// le16 msg_type @0, le16 length @2, u8 reserved_classic_dlc @4, u8 padding @5, le16 reserved_xl_priority @6,
/// le32 flags @8, le32 can_id @12, then <c>length</c> data bytes.
/// </summary>
/// <param name="MessageType">TX (0x0001) on the Txq, RX (0x0101) on the Rxq.</param>
/// <param name="Length">Data bytes after the header (for RTR: the requested DLC, sent as that many zero bytes).</param>
/// <param name="ReservedClassicDlc">Reserved (a future DLC 9..15 for 8-byte classic frames); written 0.</param>
/// <param name="Padding">Padding; written 0.</param>
/// <param name="ReservedXlPriority">Reserved (CAN XL priority); written 0.</param>
/// <param name="Flags">Frame type bits, kept as read (undefined bits included).</param>
/// <param name="CanId">The 11- or 29-bit identifier, without Linux's EFF/RTR/ERR bits.</param>
public readonly record struct VirtioCanFrameHeader(
    VirtioCanMessageType MessageType,
    ushort Length,
    byte ReservedClassicDlc,
    byte Padding,
    ushort ReservedXlPriority,
    VirtioCanFlags Flags,
    uint CanId)
{
    /// <summary>Bytes in the header.</summary>
    public const int Size = 16;

    /// <summary><c>VIRTIO_CAN_MAX_DLEN</c>: the most data bytes of any frame (CAN FD).</summary>
    public const int MaxDataLength = 64;

    /// <summary>The most data bytes of a classic frame.</summary>
    public const int ClassicMaxDataLength = 8;

    /// <summary>A header with the reserved fields zero.</summary>
    public VirtioCanFrameHeader(VirtioCanMessageType messageType, ushort length, VirtioCanFlags flags, uint canId)
        : this(messageType, length, 0, 0, 0, flags, canId)
    {
    }

    /// <summary>Reads a header from the first 16 bytes of <paramref name="source"/>; false when there are fewer.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out VirtioCanFrameHeader header)
    {
        if (source.Length < Size)
        {
            header = default;
            return false;
        }
        header = new VirtioCanFrameHeader(
            (VirtioCanMessageType)BinaryPrimitives.ReadUInt16LittleEndian(source),
            BinaryPrimitives.ReadUInt16LittleEndian(source[2..]),
            source[4],
            source[5],
            BinaryPrimitives.ReadUInt16LittleEndian(source[6..]),
            (VirtioCanFlags)BinaryPrimitives.ReadUInt32LittleEndian(source[8..]),
            BinaryPrimitives.ReadUInt32LittleEndian(source[12..]));
        return true;
    }

    /// <summary>Writes the 16 header bytes at the start of <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentException">The destination is shorter than 16 bytes.</exception>
    public void Write(Span<byte> destination)
    {
        if (destination.Length < Size)
            throw new ArgumentException($"a virtio-can frame header needs {Size} bytes, the buffer has {destination.Length}", nameof(destination));
        BinaryPrimitives.WriteUInt16LittleEndian(destination, (ushort)MessageType);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[2..], Length);
        destination[4] = ReservedClassicDlc;
        destination[5] = Padding;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], ReservedXlPriority);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], (uint)Flags);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], CanId);
    }
}

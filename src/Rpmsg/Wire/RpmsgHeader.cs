using System.Buffers.Binary;

namespace AmpCan.Rpmsg.Wire;

/// <summary>
/// <c>struct rpmsg_hdr</c> (packed, 16 bytes, little-endian on every supported SoC):
/// u32 src @0, u32 dst @4, u32 reserved @8, u16 len @12, u16 flags @14, then len payload bytes.
/// </summary>
/// <param name="Source">Sender's address.</param>
/// <param name="Destination">Receiver's address.</param>
/// <param name="Reserved">Linux sends 0; OpenAMP's zero-copy path keeps a buffer index here.</param>
/// <param name="Length">Payload bytes that follow the header.</param>
/// <param name="Flags">Linux sends 0.</param>
public readonly record struct RpmsgHeader(uint Source, uint Destination, uint Reserved, ushort Length, ushort Flags)
{
    /// <summary>Bytes in the header.</summary>
    public const int Size = 16;

    /// <summary>Reads a header from its 16 wire bytes (one copy; validate the copy, not the buffer).</summary>
    public static RpmsgHeader Read(ReadOnlySpan<byte> b) => new(
        BinaryPrimitives.ReadUInt32LittleEndian(b),
        BinaryPrimitives.ReadUInt32LittleEndian(b[4..]),
        BinaryPrimitives.ReadUInt32LittleEndian(b[8..]),
        BinaryPrimitives.ReadUInt16LittleEndian(b[12..]),
        BinaryPrimitives.ReadUInt16LittleEndian(b[14..]));

    /// <summary>Writes the 16 wire bytes.</summary>
    public void Write(Span<byte> b)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(b, Source);
        BinaryPrimitives.WriteUInt32LittleEndian(b[4..], Destination);
        BinaryPrimitives.WriteUInt32LittleEndian(b[8..], Reserved);
        BinaryPrimitives.WriteUInt16LittleEndian(b[12..], Length);
        BinaryPrimitives.WriteUInt16LittleEndian(b[14..], Flags);
    }
}

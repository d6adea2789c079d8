using AmpCan.VirtioCan.Wire;

namespace AmpCan.VirtioCan;

/// <summary>
/// Formats a frame from the bus into a buffer the driver posted on the Rxq (<c>struct virtio_can_rx</c>): the 16-byte
/// header with <c>msg_type</c> RX, then <c>length</c> bytes; the used length to report is <c>16 + length</c>.
/// </summary>
/// <remarks>
/// Whether the driver may receive the frame at all (frame type negotiated, identifier and length in range) is
/// <see cref="Validation.VirtioCanFrameRules.Check"/>'s question, asked before this; here only what cannot be written
/// at all throws. A buffer too small is refused without writing anything: the device counts the frame as dropped.
/// </remarks>
public static class VirtioCanReceiveFormat
{
    /// <summary>
    /// Writes a data frame (classic or FD) into <paramref name="buffer"/>; false, nothing written, when it has fewer
    /// than <c>16 + data.Length</c> bytes.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="flags"/> has RTR (use <see cref="TryWriteRemoteRequest"/>) or the data exceed 64 bytes.</exception>
    public static bool TryWriteData(Span<byte> buffer, VirtioCanFlags flags, uint canId, ReadOnlySpan<byte> data, out int usedLength)
    {
        if ((flags & VirtioCanFlags.Rtr) != 0)
            throw new ArgumentException("an RTR frame carries no data: use TryWriteRemoteRequest", nameof(flags));
        if (data.Length > VirtioCanFrameHeader.MaxDataLength)
            throw new ArgumentException($"a CAN frame carries at most {VirtioCanFrameHeader.MaxDataLength} data bytes, not {data.Length}", nameof(data));
        usedLength = VirtioCanFrameHeader.Size + data.Length;
        if (buffer.Length < usedLength)
        {
            usedLength = 0;
            return false;
        }
        new VirtioCanFrameHeader(VirtioCanMessageType.Rx, (ushort)data.Length, flags, canId).Write(buffer);
        data.CopyTo(buffer[VirtioCanFrameHeader.Size..]);
        return true;
    }

    /// <summary>
    /// Writes a remote transmission request for <paramref name="length"/> bytes (its DLC) into <paramref name="buffer"/>,
    /// followed by <paramref name="length"/> zero bytes; false, nothing written, when the buffer is too small.
    /// </summary>
    /// <remarks>
    /// The zero bytes are not optional: Linux's virtio_can drops an RX RTR frame whose used length is below
    /// <c>16 + length</c> ("RX: Message too small for payload"), although it copies none of them.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is outside 0..8 (RTR frames are classic).</exception>
    public static bool TryWriteRemoteRequest(Span<byte> buffer, bool extended, uint canId, int length, out int usedLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, VirtioCanFrameHeader.ClassicMaxDataLength);
        usedLength = VirtioCanFrameHeader.Size + length;
        if (buffer.Length < usedLength)
        {
            usedLength = 0;
            return false;
        }
        VirtioCanFlags flags = VirtioCanFlags.Rtr | (extended ? VirtioCanFlags.Extended : VirtioCanFlags.None);
        new VirtioCanFrameHeader(VirtioCanMessageType.Rx, (ushort)length, flags, canId).Write(buffer);
        buffer.Slice(VirtioCanFrameHeader.Size, length).Clear();
        return true;
    }
}

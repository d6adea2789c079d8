using AmpCan.VirtioCan.Wire;

namespace AmpCan.VirtioCan.Validation;

/// <summary>
/// Checks what a device wrote into a receive buffer (<c>struct virtio_can_rx</c>) before the driver believes a byte of
/// it: the device is a peer, and a buffer it filled wrongly is dropped, never delivered half-read.
/// </summary>
public static class VirtioCanReceiveValidation
{
    /// <summary>
    /// Reads the frame in <paramref name="written"/> (the bytes the device reported as used, copied out of shared
    /// memory once) into <paramref name="frame"/>, checked against <paramref name="negotiatedFeatures"/>.
    /// </summary>
    /// <remarks>
    /// Rejected: fewer than 16 bytes, a <c>msg_type</c> other than RX, undefined flags, a frame type not negotiated,
    /// an identifier or length out of range, fewer than <c>16 + length</c> bytes (an RTR frame too: the device sends
    /// its <c>length</c> as that many bytes, as Linux's driver requires). More bytes than that are ignored, as the
    /// reserved header fields are (the spec gives the driver no rule for either).
    /// </remarks>
    public static VirtioCanRejection Validate(ReadOnlySpan<byte> written, ulong negotiatedFeatures, out CanFrame frame)
    {
        frame = default;
        VirtioCanRejection why = VirtioCanTransmitValidation.Validate(written, VirtioCanMessageType.Rx, negotiatedFeatures, out VirtioCanFrameHeader header);
        if (why != VirtioCanRejection.None)
            return why;
        frame.Id = header.CanId;
        frame.Kind = VirtioCanFrameKinds.FromFlags(header.Flags);
        frame.Length = (byte)header.Length;
        if (!frame.IsRemote) written.Slice(VirtioCanFrameHeader.Size, header.Length).CopyTo(frame.Payload);
        return VirtioCanRejection.None;
    }
}

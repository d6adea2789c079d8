using AmpCan.VirtioCan.Wire;

namespace AmpCan.VirtioCan.Validation;

/// <summary>
/// Validates the device-readable part of a Txq request (<c>struct virtio_can_tx_out</c>) before anything is sent:
/// the spec's device requirements, each failure a reason to answer NOT_OK without scheduling the frame.
/// </summary>
public static class VirtioCanTransmitValidation
{
    /// <summary>
    /// Checks <paramref name="message"/> (header + data as the driver wrote it, copied out of shared memory first)
    /// against <paramref name="negotiatedFeatures"/>; <paramref name="header"/> is what was read, valid or not.
    /// </summary>
    /// <remarks>
    /// Bytes after <c>16 + length</c> are ignored: the spec makes <c>length</c> the size of <c>sdu</c>, so a driver
    /// posting a fixed-size buffer is not wrong. Fewer are rejected, RTR included: the Linux driver sends an RTR
    /// frame's <c>length</c> as that many zero bytes. The reserved fields are not checked (the spec gives no rule).
    /// </remarks>
    public static VirtioCanRejection Validate(ReadOnlySpan<byte> message, ulong negotiatedFeatures, out VirtioCanFrameHeader header) =>
        Validate(message, VirtioCanMessageType.Tx, negotiatedFeatures, out header);

    /// <summary>
    /// The same checks for a frame message of type <paramref name="type"/> (TX as the device reads one, RX as a driver
    /// reads what the device wrote): header, type, the frame rules, <c>length</c> bytes present.
    /// </summary>
    public static VirtioCanRejection Validate(ReadOnlySpan<byte> message, VirtioCanMessageType type, ulong negotiatedFeatures, out VirtioCanFrameHeader header)
    {
        if (!VirtioCanFrameHeader.TryRead(message, out header))
            return VirtioCanRejection.ShortHeader;
        if (header.MessageType != type)
            return VirtioCanRejection.WrongMessageType;
        VirtioCanRejection frame = VirtioCanFrameRules.Check(header.Flags, header.CanId, header.Length, negotiatedFeatures);
        if (frame != VirtioCanRejection.None)
            return frame;
        if (message.Length - VirtioCanFrameHeader.Size < header.Length)
            return VirtioCanRejection.DataShorterThanLength;
        return VirtioCanRejection.None;
    }
}

using AmpCan.VirtioCan.Wire;

namespace AmpCan.VirtioCan.Validation;

/// <summary>
/// The rules a frame obeys in either direction given the negotiated features (virtio 1.4, CAN Message Transmission:
/// frame type negotiated, no undefined flag, identifier and length in range). Pure functions, no allocation.
/// </summary>
public static class VirtioCanFrameRules
{
    /// <summary>The largest 11-bit (CAN 2.0A) identifier.</summary>
    public const uint MaxStandardId = 0x7FF;

    /// <summary>The largest 29-bit (CAN 2.0B) identifier.</summary>
    public const uint MaxExtendedId = 0x1FFF_FFFF;

    /// <summary>Whether <paramref name="length"/> is a data length a CAN FD DLC can express (0..8, 12, 16, 20, 24, 32, 48, 64).</summary>
    public static bool IsFdLength(int length) => length switch
    {
        >= 0 and <= 8 => true,
        12 or 16 or 20 or 24 or 32 or 48 or 64 => true,
        _ => false,
    };

    /// <summary>
    /// Checks a frame's flags, identifier and length against <paramref name="negotiatedFeatures"/> (not its
    /// <c>msg_type</c> nor how many bytes follow the header: those belong to the direction).
    /// </summary>
    public static VirtioCanRejection Check(VirtioCanFlags flags, uint canId, int length, ulong negotiatedFeatures)
    {
        if ((flags & ~VirtioCanFlags.Defined) != 0)
            return VirtioCanRejection.UndefinedFlags;

        bool fd = (flags & VirtioCanFlags.Fd) != 0;
        bool rtr = (flags & VirtioCanFlags.Rtr) != 0;
        if (fd && !VirtioCanFeatures.Has(negotiatedFeatures, VirtioCanFeatures.CanFd))
            return VirtioCanRejection.FdNotNegotiated;
        if (!fd && !VirtioCanFeatures.Has(negotiatedFeatures, VirtioCanFeatures.CanClassic))
            return VirtioCanRejection.ClassicNotNegotiated;
        if (rtr && !VirtioCanFeatures.Has(negotiatedFeatures, VirtioCanFeatures.RtrFrames))
            return VirtioCanRejection.RtrNotNegotiated;
        if (rtr && fd)
            return VirtioCanRejection.RtrWithFd;

        if ((flags & VirtioCanFlags.Extended) != 0)
        {
            if (canId > MaxExtendedId)
                return VirtioCanRejection.ExtendedIdOutOfRange;
        }
        else if (canId > MaxStandardId)
        {
            return VirtioCanRejection.StandardIdOutOfRange;
        }

        if (fd)
        {
            if (!IsFdLength(length))
                return VirtioCanRejection.FdLengthInvalid;
        }
        else if (length > VirtioCanFrameHeader.ClassicMaxDataLength)
        {
            return VirtioCanRejection.ClassicLengthOutOfRange;
        }
        return VirtioCanRejection.None;
    }
}

namespace AmpCan.VirtioCan.Validation;

/// <summary>Why a frame is answered NOT_OK (or, on receive, not delivered); <see cref="None"/> when it is valid.</summary>
public enum VirtioCanRejection
{
    /// <summary>Valid: schedule it.</summary>
    None,

    /// <summary>The device-readable part is shorter than the 16-byte header.</summary>
    ShortHeader,

    /// <summary><c>msg_type</c> is not VIRTIO_CAN_TX (0x0001).</summary>
    WrongMessageType,

    /// <summary><c>flags</c> has a bit the spec does not define (the spec counts it as a frame type not negotiated).</summary>
    UndefinedFlags,

    /// <summary>A classic frame (no FD flag) while VIRTIO_CAN_F_CAN_CLASSIC was not negotiated.</summary>
    ClassicNotNegotiated,

    /// <summary>An FD frame while VIRTIO_CAN_F_CAN_FD was not negotiated.</summary>
    FdNotNegotiated,

    /// <summary>An RTR frame while VIRTIO_CAN_F_RTR_FRAMES was not negotiated.</summary>
    RtrNotNegotiated,

    /// <summary>RTR and FD together: CAN FD has no remote frames.</summary>
    RtrWithFd,

    /// <summary>An 11-bit identifier above 0x7FF.</summary>
    StandardIdOutOfRange,

    /// <summary>A 29-bit identifier above 0x1FFFFFFF (one of the 3 most significant bits set).</summary>
    ExtendedIdOutOfRange,

    /// <summary>A classic frame (RTR included) with <c>length</c> above 8.</summary>
    ClassicLengthOutOfRange,

    /// <summary>An FD frame whose <c>length</c> is none of 0..8, 12, 16, 20, 24, 32, 48, 64.</summary>
    FdLengthInvalid,

    /// <summary>Fewer than <c>16 + length</c> bytes in the message (an RTR frame too carries <c>length</c> bytes).</summary>
    DataShorterThanLength,

    /// <summary>The controller is stopped (never started, stopped, or bus-off): nothing is transmitted.</summary>
    ControllerStopped,

    /// <summary>The bus could not take the frame now (its transmit queue was full).</summary>
    BusBusy,

    /// <summary>The bus is not there (the SocketCAN interface is down or gone).</summary>
    BusDown,
}

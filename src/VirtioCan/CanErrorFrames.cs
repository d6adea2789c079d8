namespace AmpCan.VirtioCan;

/// <summary>
/// Error frames as SocketCAN reports controller errors (<c>include/uapi/linux/can/error.h</c>): the identifier holds
/// the error classes, the length is always <see cref="Length"/>.
/// </summary>
public static class CanErrorFrames
{
    /// <summary><c>CAN_ERR_BUSOFF</c>: the controller went bus-off.</summary>
    public const uint BusOff = 0x40;

    /// <summary><c>CAN_ERR_DLC</c>: every error frame carries 8 data bytes.</summary>
    public const byte Length = 8;

    /// <summary>The error frame SocketCAN delivers when a controller goes bus-off (its data all zero).</summary>
    public static CanFrame BusOffFrame() => new() { Id = BusOff, Kind = CanFrameKind.Error, Length = Length };
}

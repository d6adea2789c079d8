namespace AmpCan.VirtioCan;

/// <summary>A controller's state as its error frames tell it.</summary>
public enum CanErrorState
{
    /// <summary>The frame says nothing about the state (a protocol or arbitration report, say).</summary>
    Unknown,
    /// <summary>Error active: the normal state (CAN_ERR_CRTL_ACTIVE, or restarted).</summary>
    Active,
    /// <summary>Error counters reached the warning level.</summary>
    Warning,
    /// <summary>Error passive.</summary>
    Passive,
    /// <summary>Bus-off: the controller no longer takes part in the bus.</summary>
    BusOff,
}

/// <summary>
/// A SocketCAN error frame read (<see cref="CanFrame.IsError"/>): the classes in its identifier and the detail bytes
/// <c>include/uapi/linux/can/error.h</c> assigns (data[0] arbitration bit, data[1] controller, data[2..3] protocol type
/// and location, data[4] transceiver, data[6..7] error counters).
/// </summary>
public readonly struct CanErrorFrame
{
    private readonly CanFrame _frame;

    private CanErrorFrame(in CanFrame frame) => _frame = frame;

    /// <summary><c>CAN_ERR_DLC</c>: every error frame carries 8 data bytes.</summary>
    public const byte Length = 8;

    /// <summary>The error frame SocketCAN delivers when a controller goes bus-off (class BUSOFF, its data all zero).</summary>
    public static CanFrame BusOff() => new() { Id = (uint)CanErrorClasses.BusOff, Kind = CanFrameKind.Error, Length = Length };

    /// <summary>True when <paramref name="frame"/> is an error frame reporting bus-off.</summary>
    public static bool IsBusOff(in CanFrame frame) => frame.IsError && (frame.Id & (uint)CanErrorClasses.BusOff) != 0;

    /// <summary>Reads <paramref name="frame"/> as an error frame; false when it is not one.</summary>
    public static bool TryRead(in CanFrame frame, out CanErrorFrame error)
    {
        error = frame.IsError ? new CanErrorFrame(frame) : default;
        return frame.IsError;
    }

    /// <summary>The error classes.</summary>
    public CanErrorClasses Classes => (CanErrorClasses)(_frame.Id & SocketCan.SocketCanConstants.ExtendedIdMask);

    /// <summary>Data byte 1: what happened to the controller (meaningful with <see cref="CanErrorClasses.Controller"/>).</summary>
    public CanControllerProblems Controller => (CanControllerProblems)Byte(1);

    /// <summary>Data byte 2: the protocol violation's type (CAN_ERR_PROT_*, with <see cref="CanErrorClasses.Protocol"/>).</summary>
    public byte ProtocolType => Byte(2);

    /// <summary>Data byte 3: where in the frame the violation was (CAN_ERR_PROT_LOC_*).</summary>
    public byte ProtocolLocation => Byte(3);

    /// <summary>Data byte 6: the transmit error counter (with <see cref="CanErrorClasses.Counters"/>).</summary>
    public byte TxErrorCount => Byte(6);

    /// <summary>Data byte 7: the receive error counter (with <see cref="CanErrorClasses.Counters"/>).</summary>
    public byte RxErrorCount => Byte(7);

    /// <summary>The state this frame puts the controller in, the gravest it names (bus-off over passive over warning).</summary>
    public CanErrorState State
    {
        get
        {
            if ((Classes & CanErrorClasses.BusOff) != 0) return CanErrorState.BusOff;
            if ((Classes & CanErrorClasses.Controller) != 0)
            {
                CanControllerProblems c = Controller;
                if ((c & (CanControllerProblems.RxPassive | CanControllerProblems.TxPassive)) != 0) return CanErrorState.Passive;
                if ((c & (CanControllerProblems.RxWarning | CanControllerProblems.TxWarning)) != 0) return CanErrorState.Warning;
                if ((c & CanControllerProblems.Active) != 0) return CanErrorState.Active;
            }
            return (Classes & CanErrorClasses.Restarted) != 0 ? CanErrorState.Active : CanErrorState.Unknown;
        }
    }

    // The kernel always sends eight bytes (CAN_ERR_DLC); a shorter frame someone else wrote reads as zeros beyond it.
    private byte Byte(int i) => i < _frame.Length ? ((ReadOnlySpan<byte>)_frame.Data)[i] : (byte)0;
}

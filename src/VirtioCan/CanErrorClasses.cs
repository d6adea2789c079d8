namespace AmpCan.VirtioCan;

/// <summary>
/// The error classes a SocketCAN error frame carries in its identifier (<c>include/uapi/linux/can/error.h</c>), and
/// what CAN_RAW_ERR_FILTER selects; each names the data byte that details it, if any.
/// </summary>
[Flags]
public enum CanErrorClasses : uint
{
    /// <summary>None.</summary>
    None = 0,
    /// <summary>CAN_ERR_TX_TIMEOUT: a transmit timed out in the driver.</summary>
    TxTimeout = 0x001,
    /// <summary>CAN_ERR_LOSTARB: arbitration lost; data[0] is the bit.</summary>
    LostArbitration = 0x002,
    /// <summary>CAN_ERR_CRTL: the controller's state changed; data[1] says how (<see cref="CanControllerProblems"/>).</summary>
    Controller = 0x004,
    /// <summary>CAN_ERR_PROT: a protocol violation; data[2] its type, data[3] where in the frame.</summary>
    Protocol = 0x008,
    /// <summary>CAN_ERR_TRX: transceiver status; data[4].</summary>
    Transceiver = 0x010,
    /// <summary>CAN_ERR_ACK: a transmit was not acknowledged.</summary>
    NoAcknowledge = 0x020,
    /// <summary>CAN_ERR_BUSOFF: the controller went bus-off.</summary>
    BusOff = 0x040,
    /// <summary>CAN_ERR_BUSERROR: a bus error (may flood).</summary>
    BusError = 0x080,
    /// <summary>CAN_ERR_RESTARTED: the controller was restarted (after bus-off).</summary>
    Restarted = 0x100,
    /// <summary>CAN_ERR_CNT: data[6] and data[7] hold the transmit and receive error counters.</summary>
    Counters = 0x200,
}

/// <summary>Byte 1 of an error frame of class <see cref="CanErrorClasses.Controller"/> (CAN_ERR_CRTL_*).</summary>
[Flags]
public enum CanControllerProblems : byte
{
    /// <summary>CAN_ERR_CRTL_UNSPEC.</summary>
    Unspecified = 0,
    /// <summary>CAN_ERR_CRTL_RX_OVERFLOW: the receive buffer overflowed.</summary>
    RxOverflow = 0x01,
    /// <summary>CAN_ERR_CRTL_TX_OVERFLOW: the transmit buffer overflowed.</summary>
    TxOverflow = 0x02,
    /// <summary>CAN_ERR_CRTL_RX_WARNING: receive errors reached the warning level.</summary>
    RxWarning = 0x04,
    /// <summary>CAN_ERR_CRTL_TX_WARNING: transmit errors reached the warning level.</summary>
    TxWarning = 0x08,
    /// <summary>CAN_ERR_CRTL_RX_PASSIVE: error passive through receive errors.</summary>
    RxPassive = 0x10,
    /// <summary>CAN_ERR_CRTL_TX_PASSIVE: error passive through transmit errors.</summary>
    TxPassive = 0x20,
    /// <summary>CAN_ERR_CRTL_ACTIVE: back to error active.</summary>
    Active = 0x40,
}

namespace AmpCan.VirtioCan.SocketCan;

/// <summary>SocketCAN's numbers, from <c>include/uapi/linux/can.h</c> and <c>can/raw.h</c> (checked against the 7.3.4 headers).</summary>
public static class SocketCanConstants
{
    /// <summary>AF_CAN / PF_CAN.</summary>
    public const int AddressFamily = 29;
    /// <summary>CAN_RAW: raw sockets.</summary>
    public const int RawProtocol = 1;
    /// <summary>SOL_CAN_RAW = SOL_CAN_BASE (100) + CAN_RAW: the socket-option level of raw CAN sockets.</summary>
    public const int SolCanRaw = 101;
    /// <summary>CAN_RAW_FILTER: set 0 to n <c>struct can_filter</c>.</summary>
    public const int RawFilter = 1;
    /// <summary>CAN_RAW_ERR_FILTER: which error classes to receive as error frames.</summary>
    public const int RawErrorFilter = 2;
    /// <summary>CAN_RAW_LOOPBACK: local loopback (default on).</summary>
    public const int RawLoopback = 3;
    /// <summary>CAN_RAW_RECV_OWN_MSGS: receive our own frames back once the bus took them (default off).</summary>
    public const int RawReceiveOwnMessages = 4;
    /// <summary>CAN_RAW_FD_FRAMES: allow CAN FD frames (default off).</summary>
    public const int RawFdFrames = 5;

    /// <summary>CAN_EFF_FLAG: the identifier has 29 bits.</summary>
    public const uint ExtendedFlag = 0x8000_0000;
    /// <summary>CAN_RTR_FLAG: remote transmission request.</summary>
    public const uint RemoteFlag = 0x4000_0000;
    /// <summary>CAN_ERR_FLAG: an error frame.</summary>
    public const uint ErrorFlag = 0x2000_0000;
    /// <summary>CAN_SFF_MASK: an 11-bit identifier.</summary>
    public const uint StandardIdMask = 0x7FF;
    /// <summary>CAN_EFF_MASK (and CAN_ERR_MASK): a 29-bit identifier, or an error frame's classes.</summary>
    public const uint ExtendedIdMask = 0x1FFF_FFFF;

    /// <summary>CANFD_BRS: bit rate switch.</summary>
    public const byte FdBitRateSwitch = 0x01;
    /// <summary>CANFD_ESI: error state indicator.</summary>
    public const byte FdErrorStateIndicator = 0x02;
    /// <summary>CANFD_FDF: marks an FD frame in a <c>struct canfd_frame</c> used for both kinds.</summary>
    public const byte FdFrameFormat = 0x04;

    /// <summary>CAN_MTU: sizeof(struct can_frame).</summary>
    public const int ClassicMtu = 16;
    /// <summary>CANFD_MTU: sizeof(struct canfd_frame).</summary>
    public const int FdMtu = 72;
    /// <summary>sizeof(struct sockaddr_can) on 64-bit Linux.</summary>
    public const int SockaddrSize = 24;
}

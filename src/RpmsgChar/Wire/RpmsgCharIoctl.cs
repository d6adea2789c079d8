namespace AmpCan.RpmsgChar.Wire;

/// <summary>
/// The ioctl numbers of Linux's <c>include/uapi/linux/rpmsg.h</c> (7.3.4, as built in tests/virtio-vm): _IOC(dir, 0xb5,
/// nr, size) with dir in bits 30-31 (1 write, 2 read), size in bits 16-29, type in 8-15, nr in 0-7.
/// </summary>
public static class RpmsgCharIoctl
{
    /// <summary>The ioctl type byte of rpmsg.</summary>
    public const byte Type = 0xb5;

    /// <summary><c>RPMSG_CREATE_EPT_IOCTL</c> = _IOW(0xb5, 0x1, struct rpmsg_endpoint_info), on rpmsg_ctrl.</summary>
    public const uint CreateEndpoint = 0x4028b501;

    /// <summary><c>RPMSG_DESTROY_EPT_IOCTL</c> = _IO(0xb5, 0x2), on an endpoint device.</summary>
    public const uint DestroyEndpoint = 0x0000b502;

    /// <summary><c>RPMSG_CREATE_DEV_IOCTL</c> = _IOW(0xb5, 0x3, struct rpmsg_endpoint_info), on rpmsg_ctrl.</summary>
    public const uint CreateDevice = 0x4028b503;

    /// <summary><c>RPMSG_RELEASE_DEV_IOCTL</c> = _IOW(0xb5, 0x4, struct rpmsg_endpoint_info), on rpmsg_ctrl.</summary>
    public const uint ReleaseDevice = 0x4028b504;

    /// <summary><c>RPMSG_GET_OUTGOING_FLOWCONTROL</c> = _IOR(0xb5, 0x5, int): the int is written to the pointer argument.</summary>
    public const uint GetOutgoingFlowControl = 0x8004b505;

    /// <summary><c>RPMSG_SET_INCOMING_FLOWCONTROL</c> = _IOR(0xb5, 0x6, int), although rpmsg_char reads the argument itself as the value (0 or 1).</summary>
    public const uint SetIncomingFlowControl = 0x8004b506;

    /// <summary>The size field of an ioctl number (_IOC_SIZE).</summary>
    public static int SizeOf(uint command) => (int)((command >> 16) & 0x3fff);
}

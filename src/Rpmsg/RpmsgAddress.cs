namespace AmpCan.Rpmsg;

/// <summary>Well-known rpmsg addresses and limits (Linux include/linux/rpmsg.h, rpmsg/ns.h; OpenAMP rpmsg.h).</summary>
public static class RpmsgAddress
{
    /// <summary>RPMSG_ADDR_ANY: "pick one for me" (or "not bound yet").</summary>
    public const uint Any = 0xFFFF_FFFF;
    /// <summary>RPMSG_NS_ADDR: the name-service endpoint (0x35).</summary>
    public const uint NameService = 53;
    /// <summary>RPMSG_RESERVED_ADDRESSES: dynamic addresses start here.</summary>
    public const uint FirstDynamic = 1024;
}

/// <summary>rpmsg over virtio constants.</summary>
public static class VirtioRpmsg
{
    /// <summary>VIRTIO_ID_RPMSG.</summary>
    public const uint DeviceId = 7;
    /// <summary>VIRTIO_RPMSG_F_NS: the device has a name service.</summary>
    public const int FeatureNameService = 0;
    /// <summary>Linux MAX_RPMSG_BUF_SIZE and the default buffer size (16-byte header, 496-byte payload).</summary>
    public const int DefaultBufferSize = 512;
    /// <summary>Linux's send timeout (msecs_to_jiffies(15000)).</summary>
    public static readonly TimeSpan DefaultSendTimeout = TimeSpan.FromSeconds(15);
}

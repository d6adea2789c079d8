namespace AmpCan.RpmsgChar;

/// <summary>The errnos rpmsg_char.c and rpmsg_ctrl.c answer with (asm-generic/errno-base.h, errno.h values).</summary>
public static class RpmsgCharErrno
{
    /// <summary>No such file (a path looked up after its device went away).</summary>
    public const int ENOENT = 2;
    /// <summary>A blocked call was interrupted by a signal.</summary>
    public const int EINTR = 4;
    /// <summary>CREATE_DEV that could not create the channel (a matching one exists).</summary>
    public const int ENXIO = 6;
    /// <summary>Nothing queued on a non-blocking read, or no transmit buffer on a non-blocking write.</summary>
    public const int EAGAIN = 11;
    /// <summary>A pointer argument the kernel could not copy.</summary>
    public const int EFAULT = 14;
    /// <summary>A second open of an endpoint device.</summary>
    public const int EBUSY = 16;
    /// <summary>The control device's own device left (no rpmsg device behind it any more).</summary>
    public const int ENODEV = 19;
    /// <summary>Unknown ioctl, DESTROY on a default endpoint, release of no channel, ANY destination, an address in use.</summary>
    public const int EINVAL = 22;
    /// <summary>No more device numbers.</summary>
    public const int ENOSPC = 28;
    /// <summary>The endpoint is gone (destroyed, channel removed, remote crashed).</summary>
    public const int EPIPE = 32;
    /// <summary>A message longer than the device's buffers allow.</summary>
    public const int EMSGSIZE = 90;
    /// <summary>Flow control requested from a back end without it (virtio).</summary>
    public const int EOPNOTSUPP = 95;
    /// <summary>Open of an endpoint device whose rpmsg device went away.</summary>
    public const int ENETRESET = 102;
    /// <summary>A blocking write that waited its whole time for a transmit buffer (Linux leaks ERESTARTSYS here).</summary>
    public const int ETIMEDOUT = 110;
}

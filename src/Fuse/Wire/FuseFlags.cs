namespace AmpCan.Fuse.Wire;

/// <summary>FOPEN_* flags of <see cref="FuseOpenOut.OpenFlags"/>.</summary>
public static class FuseOpenFlags
{
    /// <summary>FOPEN_DIRECT_IO: bypass the page cache, so each read/write reaches the server with its size.</summary>
    public const uint DirectIo = 1 << 0;
    /// <summary>FOPEN_NONSEEKABLE: the file is not seekable.</summary>
    public const uint NonSeekable = 1 << 2;
    /// <summary>FOPEN_STREAM: no file position at all (reads and writes do not serialise on it).</summary>
    public const uint Stream = 1 << 4;
}

/// <summary>FUSE_* flags of INIT (<see cref="FuseInitIn.Flags"/>, <see cref="FuseInitOut.Flags"/>).</summary>
public static class FuseInitFlags
{
    /// <summary>FUSE_BIG_WRITES: writes larger than 4 KiB (implied by max_write on current kernels).</summary>
    public const uint BigWrites = 1 << 5;
    /// <summary>FUSE_MAX_PAGES: <see cref="FuseInitOut.MaxPages"/> is valid.</summary>
    public const uint MaxPages = 1 << 22;
    /// <summary>FUSE_INIT_EXT (7.36): flags2 is valid.</summary>
    public const uint InitExt = 1u << 30;
    /// <summary>CUSE_UNRESTRICTED_IOCTL: CUSE ioctls may ask the client for their buffers (retry protocol).</summary>
    public const uint CuseUnrestrictedIoctl = 1 << 0;
}

/// <summary>FUSE_IOCTL_* flags of <see cref="FuseIoctlIn.Flags"/> and <see cref="FuseIoctlOut.Flags"/>.</summary>
public static class FuseIoctlFlags
{
    /// <summary>FUSE_IOCTL_COMPAT: a 32-bit caller on a 64-bit kernel.</summary>
    public const uint Compat = 1 << 0;
    /// <summary>FUSE_IOCTL_UNRESTRICTED: not limited to _IOC-encoded sizes; the server may ask for a retry.</summary>
    public const uint Unrestricted = 1 << 1;
    /// <summary>FUSE_IOCTL_RETRY: reply asking the kernel to resend with the iovecs that follow.</summary>
    public const uint Retry = 1 << 2;
    /// <summary>FUSE_IOCTL_32BIT: 32-bit ioctl.</summary>
    public const uint Bit32 = 1 << 3;
    /// <summary>FUSE_IOCTL_DIR: ioctl on a directory.</summary>
    public const uint Dir = 1 << 4;
    /// <summary>FUSE_IOCTL_MAX_IOV: most iovecs a retry may name (in + out).</summary>
    public const int MaxIov = 256;
}

/// <summary>FUSE_POLL_* flags of <see cref="FusePollIn.Flags"/>.</summary>
public static class FusePollFlags
{
    /// <summary>FUSE_POLL_SCHEDULE_NOTIFY: the caller will sleep; send FUSE_NOTIFY_POLL with kh on a change.</summary>
    public const uint ScheduleNotify = 1 << 0;
}

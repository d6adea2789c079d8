namespace AmpCan.Fuse.Wire;

/// <summary><c>enum fuse_opcode</c>: the operations this layer names (anything else is answered ENOSYS).</summary>
public enum FuseOpcode : uint
{
    /// <summary>FUSE_LOOKUP: a name in a directory.</summary>
    Lookup = 1,
    /// <summary>FUSE_FORGET: drop lookups (no reply).</summary>
    Forget = 2,
    /// <summary>FUSE_GETATTR: stat a node.</summary>
    GetAttr = 3,
    /// <summary>FUSE_OPEN: open a file.</summary>
    Open = 14,
    /// <summary>FUSE_READ: read from an open file.</summary>
    Read = 15,
    /// <summary>FUSE_WRITE: write to an open file.</summary>
    Write = 16,
    /// <summary>FUSE_RELEASE: last close of an open file.</summary>
    Release = 18,
    /// <summary>FUSE_FLUSH: each close(2) of a descriptor.</summary>
    Flush = 25,
    /// <summary>FUSE_OPENDIR: open a directory for listing.</summary>
    OpenDir = 27,
    /// <summary>FUSE_READDIR: directory entries after an offset (body: fuse_read_in).</summary>
    ReadDir = 28,
    /// <summary>FUSE_RELEASEDIR: last close of an open directory (body: fuse_release_in).</summary>
    ReleaseDir = 29,
    /// <summary>FUSE_INIT: the first request, version negotiation.</summary>
    Init = 26,
    /// <summary>FUSE_INTERRUPT: a signal reached the caller of an earlier request (no reply).</summary>
    Interrupt = 36,
    /// <summary>FUSE_DESTROY: the file system goes away.</summary>
    Destroy = 38,
    /// <summary>FUSE_IOCTL: ioctl(2) on an open file.</summary>
    Ioctl = 39,
    /// <summary>FUSE_POLL: poll/select/epoll on an open file.</summary>
    Poll = 40,
    /// <summary>FUSE_BATCH_FORGET: several forgets (no reply).</summary>
    BatchForget = 42,
    /// <summary>CUSE_INIT: the first request on /dev/cuse.</summary>
    CuseInit = 4096,
}

/// <summary><c>enum fuse_notify_code</c>: unsolicited messages the server writes with unique 0.</summary>
public enum FuseNotifyCode
{
    /// <summary>FUSE_NOTIFY_POLL: wake the pollers registered under a kh.</summary>
    Poll = 1,
}

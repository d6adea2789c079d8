using AmpCan.Fuse.Wire;

namespace AmpCan.Fuse;

/// <summary>
/// What a front end (the rpmsg device files) implements behind <see cref="FuseServer"/>. Every call gets the
/// <see cref="FuseReply"/> it owes and answers it exactly once, now or later from any thread; calls come from the
/// server's one loop thread, so a handler must not block in them (keep the reply and answer later instead). An
/// exception thrown by a call is logged and the request answered EIO.
/// </summary>
public interface IFuseFileHandler
{
    /// <summary>LOOKUP of <paramref name="name"/> (no terminating NUL) in directory <paramref name="parent"/>: <see cref="FuseReply.Entry"/> or ENOENT.</summary>
    void Lookup(FuseReply reply, ulong parent, ReadOnlySpan<byte> name);

    /// <summary>GETATTR of <paramref name="nodeId"/> (the root is <see cref="FuseProtocol.RootId"/>): <see cref="FuseReply.Attr"/>.</summary>
    void GetAttr(FuseReply reply, ulong nodeId, in FuseGetAttrIn request);

    /// <summary>OPEN of <paramref name="nodeId"/>: <see cref="FuseReply.Opened"/> (device files want DIRECT_IO|NONSEEKABLE|STREAM) or an error.</summary>
    void Open(FuseReply reply, ulong nodeId, in FuseOpenIn request);

    /// <summary>READ: <see cref="FuseReply.Data"/> of at most request.Size bytes, an error (EAGAIN under O_NONBLOCK), or keep the reply.</summary>
    void Read(FuseReply reply, in FuseReadIn request);

    /// <summary>WRITE of <paramref name="data"/> (exactly request.Size bytes, valid only during the call): <see cref="FuseReply.Written"/> or an error.</summary>
    void Write(FuseReply reply, in FuseWriteIn request, ReadOnlySpan<byte> data);

    /// <summary>IOCTL with <paramref name="input"/> (request.InSize bytes, valid only during the call): <see cref="FuseReply.Ioctl"/> or an error (ENOTTY for unknown commands).</summary>
    void Ioctl(FuseReply reply, in FuseIoctlIn request, ReadOnlySpan<byte> input);

    /// <summary>POLL: <see cref="FuseReply.Poll"/> now; with FUSE_POLL_SCHEDULE_NOTIFY keep request.KernelHandle and call <see cref="FuseReplyWriter.NotifyPoll"/> on a change.</summary>
    void Poll(FuseReply reply, in FusePollIn request);

    /// <summary>FLUSH (each close of a descriptor): <see cref="FuseReply.Ok"/>.</summary>
    void Flush(FuseReply reply, in FuseFlushIn request);

    /// <summary>RELEASE (last close of the open file): <see cref="FuseReply.Ok"/>; answer any reply still held for it.</summary>
    void Release(FuseReply reply, in FuseReleaseIn request);

    /// <summary>OPENDIR of <paramref name="nodeId"/>: <see cref="FuseReply.Opened"/> with a handle for READDIR. Default: ENOSYS (nothing to list).</summary>
    void OpenDir(FuseReply reply, ulong nodeId, in FuseOpenIn request) => reply.Error(38);

    /// <summary>READDIR: the entries after request.Offset, packed by <see cref="FuseDirectoryEntry"/> into at most request.Size bytes (none: the end).</summary>
    void ReadDir(FuseReply reply, in FuseReadIn request) => reply.Error(38);

    /// <summary>RELEASEDIR: the last close of an open directory.</summary>
    void ReleaseDir(FuseReply reply, in FuseReleaseIn request) => reply.Ok();

    /// <summary>INTERRUPT of request <paramref name="unique"/> (no reply owed): answer the held reply with EINTR if it is still held.</summary>
    void Interrupt(ulong unique);
}

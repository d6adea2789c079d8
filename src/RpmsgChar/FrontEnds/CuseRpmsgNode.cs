using AmpCan.Fuse;
using AmpCan.Fuse.Wire;

namespace AmpCan.RpmsgChar.FrontEnds;

/// <summary>
/// One rpmsg_char file as a CUSE character device (<c>/dev/rpmsg_ctrlN</c>, <c>/dev/rpmsgN</c>): the requests of its
/// own /dev/cuse connection, on that connection's loop thread. Ioctls are unrestricted, so each is answered as the
/// kernel's driver reads its argument: rpmsg_ctrl fetches 40 bytes behind the pointer for every command (EFAULT for a
/// bad one, whatever the command), an endpoint only writes the int of GET_OUTGOING_FLOWCONTROL back.
/// </summary>
internal sealed class CuseRpmsgNode(RpmsgCharNode node, Action<CuseRpmsgNode> lastClose) : IFuseFileHandler
{
    private const int ENOSYS = 38;
    private readonly RpmsgCharOpenFiles _open = new();
    private FuseRpmsgReplies? _replies;
    private int _opens;

    /// <summary>The file served.</summary>
    public RpmsgCharNode Node => node;

    /// <summary>Opens not yet released.</summary>
    public int Opens => Volatile.Read(ref _opens);

    public void Lookup(FuseReply reply, ulong parent, ReadOnlySpan<byte> name) => reply.Error(ENOSYS);

    public void GetAttr(FuseReply reply, ulong nodeId, in FuseGetAttrIn request) => reply.Error(ENOSYS);

    public void Open(FuseReply reply, ulong nodeId, in FuseOpenIn request)
    {
        // A character device: no DIRECT_IO or STREAM needed (CUSE files are never cached, reads never seek).
        _replies ??= new FuseRpmsgReplies(reply.Writer);
        object opened;
        if (node is RpmsgCtrlDevice ctrl)
        {
            int rc = ctrl.Open();
            if (rc < 0) { reply.Error(-rc); return; }
            opened = ctrl;
        }
        else
        {
            int rc = ((RpmsgEndpointDevice)node).Open(_replies, out RpmsgCharFile? file);
            if (rc < 0) { reply.Error(-rc); return; }
            opened = file!;
        }
        ulong fh = _open.Add(opened);
        Interlocked.Increment(ref _opens);
        if (!reply.Opened(fh, FuseOpenFlags.NonSeekable)) Close(fh); // the caller left before the answer
    }

    public void Read(FuseReply reply, in FuseReadIn request) => _open.Read(reply, request);

    public void Write(FuseReply reply, in FuseWriteIn request, ReadOnlySpan<byte> data) => _open.Write(reply, request, data);

    public void Ioctl(FuseReply reply, in FuseIoctlIn request, ReadOnlySpan<byte> input)
    {
        if ((request.Flags & FuseIoctlFlags.Unrestricted) != 0)
        {
            // What the kernel's driver copies from or to the pointer argument, fetched first (a bad pointer: EFAULT).
            switch (_open.Get(request.FileHandle))
            {
                case RpmsgCtrlDevice when input.Length < RpmsgCtrlDevice.IoctlInputSize:
                    // rpmsg_ctrldev_ioctl: copy_from_user of the whole rpmsg_endpoint_info before looking at the command.
                    reply.IoctlRetry(request, [new FuseIoctlIovec(request.Argument, RpmsgCtrlDevice.IoctlInputSize)], []);
                    return;
                case RpmsgCharFile when request.OutSize < RpmsgEndpointDevice.IoctlOutputSize(request.Command):
                    reply.IoctlRetry(request, [], [new FuseIoctlIovec(request.Argument, (ulong)RpmsgEndpointDevice.IoctlOutputSize(request.Command))]);
                    return;
            }
        }
        _open.Ioctl(reply, request, input);
    }

    public void Poll(FuseReply reply, in FusePollIn request) => _open.Poll(reply, request);

    public void Flush(FuseReply reply, in FuseFlushIn request) => reply.Ok();

    public void Release(FuseReply reply, in FuseReleaseIn request)
    {
        Close(request.FileHandle);
        reply.Ok();
    }

    private void Close(ulong fh)
    {
        if (_open.Get(fh) is null) return;
        // Before the release frees the file's number: a new device given that number waits for this one's connection to end.
        if (Interlocked.Decrement(ref _opens) == 0) lastClose(this);
        _open.Close(fh);
    }

    public void Interrupt(ulong unique) => _open.Interrupt(unique);
}

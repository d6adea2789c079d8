using AmpCan.Fuse;
using AmpCan.Fuse.Wire;
using AmpCan.RpmsgChar.Wire;

namespace AmpCan.RpmsgChar.FrontEnds;

/// <summary>
/// One rpmsg_char file as a CUSE character device (<c>/dev/rpmsg_ctrlN</c>, <c>/dev/rpmsgN</c>): the requests of its
/// own /dev/cuse connection, on that connection's loop thread. Ioctls are unrestricted, so each is answered as the
/// kernel's driver reads its argument: rpmsg_ctrl fetches 40 bytes behind the pointer for every command (EFAULT for a
/// bad one, whatever the command), an endpoint only writes the int of GET_OUTGOING_FLOWCONTROL back.
/// </summary>
internal sealed class CuseRpmsgNode(RpmsgCharNode node, Action<CuseRpmsgNode> lastClose) : IFuseFileHandler
{
    private const int EBADF = 9, EINVAL = 22, ENOSYS = 38;
    private const uint ONonBlock = 0x800;
    private const uint DefaultPollMask = 0x145;
    private readonly Dictionary<ulong, object> _open = [];
    private FuseRpmsgReplies? _replies;
    private ulong _nextHandle = 1;
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
        ulong fh = _nextHandle++;
        _open[fh] = opened;
        Interlocked.Increment(ref _opens);
        if (!reply.Opened(fh, FuseOpenFlags.NonSeekable)) Close(fh); // the caller left before the answer
    }

    public void Read(FuseReply reply, in FuseReadIn request)
    {
        switch (_open.GetValueOrDefault(request.FileHandle))
        {
            case RpmsgCharFile file: file.Read(reply.Unique, (int)Math.Min(request.Size, int.MaxValue), (request.Flags & ONonBlock) != 0); return;
            case RpmsgCtrlDevice: reply.Error(EINVAL); return;
            default: reply.Error(EBADF); return;
        }
    }

    public void Write(FuseReply reply, in FuseWriteIn request, ReadOnlySpan<byte> data)
    {
        switch (_open.GetValueOrDefault(request.FileHandle))
        {
            case RpmsgCharFile file: file.Write(reply.Unique, data, (request.Flags & ONonBlock) != 0); return;
            case RpmsgCtrlDevice: reply.Error(EINVAL); return;
            default: reply.Error(EBADF); return;
        }
    }

    public void Ioctl(FuseReply reply, in FuseIoctlIn request, ReadOnlySpan<byte> input)
    {
        bool unrestricted = (request.Flags & FuseIoctlFlags.Unrestricted) != 0;
        switch (_open.GetValueOrDefault(request.FileHandle))
        {
            case RpmsgCtrlDevice ctrl:
            {
                if (unrestricted && input.Length < RpmsgCtrlDevice.IoctlInputSize)
                {
                    // rpmsg_ctrldev_ioctl: copy_from_user of the whole rpmsg_endpoint_info before looking at the command.
                    reply.IoctlRetry(request, [new FuseIoctlIovec(request.Argument, RpmsgCtrlDevice.IoctlInputSize)], []);
                    return;
                }
                int rc = ctrl.Ioctl(request.Command, input);
                if (rc < 0) reply.Error(-rc);
                else reply.Ioctl(rc, default);
                return;
            }
            case RpmsgCharFile file:
            {
                int outSize = RpmsgEndpointDevice.IoctlTransfer(request.Command).Out;
                if (unrestricted && request.OutSize < outSize)
                {
                    reply.IoctlRetry(request, [], [new FuseIoctlIovec(request.Argument, (ulong)outSize)]);
                    return;
                }
                Span<byte> output = stackalloc byte[sizeof(int)];
                int rc = file.Ioctl(request.Command, request.Argument, output[..(int)Math.Min(request.OutSize, (uint)output.Length)], out int written);
                if (rc < 0) reply.Error(-rc);
                else reply.Ioctl(rc, output[..written]);
                return;
            }
            default:
                reply.Error(EBADF);
                return;
        }
    }

    public void Poll(FuseReply reply, in FusePollIn request)
    {
        switch (_open.GetValueOrDefault(request.FileHandle))
        {
            case RpmsgCharFile file: reply.Poll(file.Poll(request.KernelHandle, (request.Flags & FusePollFlags.ScheduleNotify) != 0)); return;
            case RpmsgCtrlDevice: reply.Poll(DefaultPollMask); return;
            default: reply.Error(EBADF); return;
        }
    }

    public void Flush(FuseReply reply, in FuseFlushIn request) => reply.Ok();

    public void Release(FuseReply reply, in FuseReleaseIn request)
    {
        Close(request.FileHandle);
        reply.Ok();
    }

    private void Close(ulong fh)
    {
        if (!_open.Remove(fh, out object? opened)) return;
        // Before the release frees the file's number: a new device given that number waits for this one's connection to end.
        if (Interlocked.Decrement(ref _opens) == 0) lastClose(this);
        if (opened is RpmsgCharFile file) file.Release();
        else if (opened is RpmsgCtrlDevice ctrl) ctrl.Release();
    }

    public void Interrupt(ulong unique)
    {
        foreach (object opened in _open.Values)
            if (opened is RpmsgCharFile file) file.Interrupt(unique);
    }
}

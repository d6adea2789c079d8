using AmpCan.Fuse;
using AmpCan.Fuse.Wire;

namespace AmpCan.RpmsgChar.FrontEnds;

/// <summary>
/// What one FUSE or CUSE connection has open (its file handles: an endpoint's <see cref="RpmsgCharFile"/>, a control
/// device, a directory listing), and the requests on them both front ends answer alike. Used on the connection's loop
/// thread only.
/// </summary>
internal sealed class RpmsgCharOpenFiles
{
    private const int EBADF = 9, EINVAL = 22;
    private const uint ONonBlock = 0x800;
    // A character device without read/write/poll operations: what poll(2) reports for rpmsg_ctrl (DEFAULT_POLLMASK).
    private const uint DefaultPollMask = 0x145;
    private readonly Dictionary<ulong, object> _open = [];
    private ulong _next = 1;

    /// <summary>Handles open now.</summary>
    public int Count => _open.Count;

    /// <summary>A new handle for <paramref name="opened"/>.</summary>
    public ulong Add(object opened)
    {
        ulong fh = _next++;
        _open[fh] = opened;
        return fh;
    }

    /// <summary>What <paramref name="fh"/> holds, or null.</summary>
    public object? Get(ulong fh) => _open.GetValueOrDefault(fh);

    /// <summary>Forgets <paramref name="fh"/> and releases what it held (the last close of that open).</summary>
    public bool Close(ulong fh)
    {
        if (!_open.Remove(fh, out object? opened)) return false;
        if (opened is RpmsgCharFile file) file.Release();
        else if (opened is RpmsgCtrlDevice ctrl) ctrl.Release();
        return true;
    }

    /// <summary>READ: one message from an endpoint; rpmsg_ctrl has no read (EINVAL).</summary>
    public void Read(FuseReply reply, in FuseReadIn request)
    {
        switch (Get(request.FileHandle))
        {
            case RpmsgCharFile file: file.Read(reply.Unique, (int)Math.Min(request.Size, int.MaxValue), (request.Flags & ONonBlock) != 0); return;
            case RpmsgCtrlDevice: reply.Error(EINVAL); return;
            default: reply.Error(EBADF); return;
        }
    }

    /// <summary>WRITE: one message from an endpoint; rpmsg_ctrl has no write (EINVAL).</summary>
    public void Write(FuseReply reply, in FuseWriteIn request, ReadOnlySpan<byte> data)
    {
        switch (Get(request.FileHandle))
        {
            case RpmsgCharFile file: file.Write(reply.Unique, data, (request.Flags & ONonBlock) != 0); return;
            case RpmsgCtrlDevice: reply.Error(EINVAL); return;
            default: reply.Error(EBADF); return;
        }
    }

    /// <summary>IOCTL with its data already there (a FUSE file's restricted ioctl, or a CUSE one after its retry).</summary>
    public void Ioctl(FuseReply reply, in FuseIoctlIn request, ReadOnlySpan<byte> input)
    {
        switch (Get(request.FileHandle))
        {
            case RpmsgCtrlDevice ctrl:
            {
                int rc = ctrl.Ioctl(request.Command, input);
                if (rc < 0) reply.Error(-rc);
                else reply.Ioctl(rc, default);
                return;
            }
            case RpmsgCharFile file:
            {
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

    /// <summary>POLL: an endpoint's events (a notification scheduled when asked); rpmsg_ctrl's default mask.</summary>
    public void Poll(FuseReply reply, in FusePollIn request)
    {
        switch (Get(request.FileHandle))
        {
            case RpmsgCharFile file: reply.Poll(file.Poll(request.KernelHandle, (request.Flags & FusePollFlags.ScheduleNotify) != 0)); return;
            case RpmsgCtrlDevice: reply.Poll(DefaultPollMask); return;
            default: reply.Error(EBADF); return;
        }
    }

    /// <summary>INTERRUPT: the held call <paramref name="unique"/> of whichever endpoint holds it answers EINTR.</summary>
    public void Interrupt(ulong unique)
    {
        foreach (object opened in _open.Values)
            if (opened is RpmsgCharFile file) file.Interrupt(unique);
    }
}

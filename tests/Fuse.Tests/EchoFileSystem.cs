using AmpCan.Fuse;
using AmpCan.Fuse.Wire;

namespace AmpCan.Tests.Fuse;

/// <summary>
/// A root directory with one file, <c>echo</c>, whose reads return earlier writes one message each (the rpmsg_char
/// shape): a read with nothing queued is held until a write arrives, or fails EAGAIN under O_NONBLOCK.
/// </summary>
internal sealed class EchoFileSystem : IFuseFileHandler
{
    public const string FileName = "echo";
    public const uint CreateEndpointIoctl = 0x4028B501; // _IOW(0xB5, 1, struct rpmsg_endpoint_info), 40 bytes
    private const ulong FileNode = 2;
    private const int ENOENT = 2, EAGAIN = 11, ENOTTY = 25, EINTR = 4;
    private const uint ONonblock = 0x800;

    private readonly object _lock = new();
    private readonly Queue<byte[]> _messages = new();
    private readonly List<(FuseReply Reply, uint Size)> _heldReads = [];
    private readonly List<ulong> _pollHandles = [];
    private ulong _nextHandle = 1;

    /// <summary>Set each time a read is held (no message queued).</summary>
    public SemaphoreSlim ReadHeld { get; } = new(0);

    /// <summary>Set each time a poll asks to be notified (nothing queued).</summary>
    public SemaphoreSlim PollScheduled { get; } = new(0);

    /// <summary>The ioctls that reached the handler, with their input bytes.</summary>
    public List<(uint Command, byte[] Input)> Ioctls { get; } = [];

    private static FuseAttr Attr(ulong node) => node == FuseProtocol.RootId
        ? new FuseAttr(node, 0, 0x41ED, 2, 0, 0, 0) // drwxr-xr-x
        : new FuseAttr(node, 0, 0x81B6, 1, 0, 0, 0); // -rw-rw-rw-, a regular file (S_IFCHR would go to a real driver)

    public void Lookup(FuseReply reply, ulong parent, ReadOnlySpan<byte> name)
    {
        if (parent == FuseProtocol.RootId && FuseServer.NameText(name) == FileName)
            reply.Entry(new FuseEntryOut(FileNode, 0, 1, 1, Attr(FileNode)));
        else
            reply.Error(ENOENT);
    }

    public void GetAttr(FuseReply reply, ulong nodeId, in FuseGetAttrIn request)
    {
        if (nodeId is FuseProtocol.RootId or FileNode) reply.Attr(new FuseAttrOut(1, Attr(nodeId)));
        else reply.Error(ENOENT);
    }

    public void Open(FuseReply reply, ulong nodeId, in FuseOpenIn request)
    {
        ulong fh;
        lock (_lock) fh = _nextHandle++;
        reply.Opened(fh, FuseOpenFlags.DirectIo | FuseOpenFlags.NonSeekable | FuseOpenFlags.Stream);
    }

    public void Read(FuseReply reply, in FuseReadIn request)
    {
        byte[]? message = null;
        lock (_lock)
        {
            if (_messages.Count > 0) message = _messages.Dequeue();
            else if ((request.Flags & ONonblock) == 0) _heldReads.Add((reply, request.Size));
        }
        if (message is not null) reply.Data(message.AsSpan(0, Math.Min(message.Length, (int)request.Size)));
        else if ((request.Flags & ONonblock) != 0) reply.Error(EAGAIN);
        else ReadHeld.Release();
    }

    public void Write(FuseReply reply, in FuseWriteIn request, ReadOnlySpan<byte> data)
    {
        (FuseReply Reply, uint Size)? waiter = null;
        ulong[] pollers;
        byte[] message = data.ToArray();
        lock (_lock)
        {
            if (_heldReads.Count > 0)
            {
                waiter = _heldReads[0];
                _heldReads.RemoveAt(0);
            }
            else
            {
                _messages.Enqueue(message);
            }
            pollers = [.. _pollHandles];
            _pollHandles.Clear();
        }
        reply.Written(request.Size);
        if (waiter is { } w) w.Reply.Data(message.AsSpan(0, Math.Min(message.Length, (int)w.Size)));
        foreach (ulong kh in pollers) reply.Writer.NotifyPoll(kh);
    }

    public void Ioctl(FuseReply reply, in FuseIoctlIn request, ReadOnlySpan<byte> input)
    {
        if (request.Command != CreateEndpointIoctl)
        {
            reply.Error(ENOTTY);
            return;
        }
        lock (_lock) Ioctls.Add((request.Command, input.ToArray()));
        reply.Ioctl(0, default);
    }

    public void Poll(FuseReply reply, in FusePollIn request)
    {
        uint ready = 0x4 | 0x100; // POLLOUT | POLLWRNORM: writes never wait here
        bool scheduled = false;
        lock (_lock)
        {
            if (_messages.Count > 0) ready |= 0x1 | 0x40; // POLLIN | POLLRDNORM
            else if ((request.Flags & FusePollFlags.ScheduleNotify) != 0)
            {
                _pollHandles.Add(request.KernelHandle);
                scheduled = true;
            }
        }
        reply.Poll(ready);
        if (scheduled) PollScheduled.Release();
    }

    public void Flush(FuseReply reply, in FuseFlushIn request) => reply.Ok();

    public void Release(FuseReply reply, in FuseReleaseIn request) => reply.Ok();

    public void Interrupt(ulong unique)
    {
        FuseReply? held = null;
        lock (_lock)
        {
            int i = _heldReads.FindIndex(r => r.Reply.Unique == unique);
            if (i >= 0)
            {
                held = _heldReads[i].Reply;
                _heldReads.RemoveAt(i);
            }
        }
        held?.Error(EINTR);
    }
}

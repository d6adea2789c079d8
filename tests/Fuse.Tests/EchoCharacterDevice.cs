using AmpCan.Fuse;
using AmpCan.Fuse.Wire;

namespace AmpCan.Tests.Fuse;

/// <summary>
/// A character device (served over CUSE) whose reads return earlier writes one message each, the rpmsg_char shape: a
/// read with nothing queued is held until a write arrives, or fails EAGAIN under O_NONBLOCK; after
/// <see cref="Destroy"/> every call fails EPIPE, as an rpmsg endpoint's do once destroyed. Its ioctls exercise the
/// unrestricted retry. Linked into the kernel-VM guest probe (tests/CuseProbe) too.
/// </summary>
internal sealed class EchoCharacterDevice : IFuseFileHandler
{
    /// <summary>RPMSG_CREATE_EPT_IOCTL, _IOW(0xB5, 1, 40 bytes): retried by its encoding under CUSE.</summary>
    public const uint CreateEndpointIoctl = 0x4028B501;

    /// <summary>_IO(0xB5, 0xF0), an ioctl its number says nothing about: reads 40 bytes at arg, writes their byte sum (an int) at arg+36.</summary>
    public const uint SumIoctl = 0xB5F0;

    /// <summary>_IO(0xB5, 0xF1): asks for (arg &amp; 0xFFFF) input and (arg &gt;&gt; 16) output iovecs of one byte each.</summary>
    public const uint ManyIovecsIoctl = 0xB5F1;

    /// <summary>_IO(0xB5, 0xF2): asks for one input iovec of arg bytes.</summary>
    public const uint LongIovecIoctl = 0xB5F2;

    /// <summary>Where <see cref="ManyIovecsIoctl"/>'s iovecs point (never reached: the tests check the refusal or the reply).</summary>
    public const ulong ManyIovecsBase = 0x10000;

    /// <summary>Bytes <see cref="SumIoctl"/> reads.</summary>
    public const int SumInput = 40;

    private const int EAGAIN = 11, ENOTTY = 25, EINTR = 4, EPIPE = 32;
    private const uint ONonblock = 0x800;

    private readonly object _lock = new();
    private readonly Queue<byte[]> _messages = new();
    private readonly List<(FuseReply Reply, uint Size)> _heldReads = [];
    private readonly List<ulong> _pollHandles = [];
    private ulong _nextHandle = 1;
    private bool _destroyed;

    /// <summary>Released each time a read is held (no message queued).</summary>
    public SemaphoreSlim ReadHeld { get; } = new(0);

    /// <summary>Released each time a poll asks to be notified (nothing queued).</summary>
    public SemaphoreSlim PollScheduled { get; } = new(0);

    /// <summary>Released on each RELEASE (last close of an open file).</summary>
    public SemaphoreSlim Released { get; } = new(0);

    /// <summary>The CREATE_EPT inputs that reached the handler after their retry.</summary>
    public List<byte[]> Endpoints { get; } = [];

    /// <summary>Every IOCTL request as it arrived (flags, sizes), for the tests to see the rounds.</summary>
    public List<FuseIoctlIn> IoctlRequests { get; } = [];

    /// <summary>Opens answered so far.</summary>
    public int Opens { get; private set; }

    /// <summary>From now on every call fails EPIPE and held reads are answered so (the endpoint went away).</summary>
    public void Destroy()
    {
        List<(FuseReply Reply, uint Size)> held;
        lock (_lock)
        {
            _destroyed = true;
            held = [.. _heldReads];
            _heldReads.Clear();
        }
        foreach (var (reply, _) in held) reply.Error(EPIPE);
    }

    public void Lookup(FuseReply reply, ulong parent, ReadOnlySpan<byte> name) => reply.Error(38);

    public void GetAttr(FuseReply reply, ulong nodeId, in FuseGetAttrIn request) => reply.Error(38);

    public void Open(FuseReply reply, ulong nodeId, in FuseOpenIn request)
    {
        ulong fh;
        lock (_lock)
        {
            fh = _nextHandle++;
            Opens++;
        }
        reply.Opened(fh, FuseOpenFlags.DirectIo | FuseOpenFlags.NonSeekable | FuseOpenFlags.Stream);
    }

    public void Read(FuseReply reply, in FuseReadIn request)
    {
        byte[]? message = null;
        bool destroyed;
        lock (_lock)
        {
            destroyed = _destroyed;
            if (!destroyed && _messages.Count > 0) message = _messages.Dequeue();
            else if (!destroyed && (request.Flags & ONonblock) == 0) _heldReads.Add((reply, request.Size));
        }
        if (destroyed) reply.Error(EPIPE);
        else if (message is not null) reply.Data(message.AsSpan(0, Math.Min(message.Length, (int)request.Size)));
        else if ((request.Flags & ONonblock) != 0) reply.Error(EAGAIN);
        else ReadHeld.Release();
    }

    public void Write(FuseReply reply, in FuseWriteIn request, ReadOnlySpan<byte> data)
    {
        (FuseReply Reply, uint Size)? waiter = null;
        ulong[] pollers = [];
        byte[] message = data.ToArray();
        bool destroyed;
        lock (_lock)
        {
            destroyed = _destroyed;
            if (!destroyed)
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
        }
        if (destroyed)
        {
            reply.Error(EPIPE);
            return;
        }
        reply.Written(request.Size);
        if (waiter is { } w) w.Reply.Data(message.AsSpan(0, Math.Min(message.Length, (int)w.Size)));
        foreach (ulong kh in pollers) reply.Writer.NotifyPoll(kh);
    }

    public void Ioctl(FuseReply reply, in FuseIoctlIn request, ReadOnlySpan<byte> input)
    {
        lock (_lock) IoctlRequests.Add(request);
        switch (request.Command)
        {
            case CreateEndpointIoctl when FuseIoctlRetry.WantsEncodedData(request):
                reply.IoctlRetryEncoded(request);
                return;
            case CreateEndpointIoctl:
                lock (_lock) Endpoints.Add(input.ToArray());
                reply.Ioctl(0, default);
                return;
            case SumIoctl when request.InSize == 0:
                reply.IoctlRetry(request, [new FuseIoctlIovec(request.Argument, SumInput)], [new FuseIoctlIovec(request.Argument + 36, 4)]);
                return;
            case SumIoctl:
            {
                int sum = 0;
                foreach (byte b in input) sum += b;
                reply.Ioctl(0, BitConverter.GetBytes(sum).AsSpan(0, (int)Math.Min(4, request.OutSize)));
                return;
            }
            case ManyIovecsIoctl:
            {
                int ins = (int)(request.Argument & 0xFFFF), outs = (int)((request.Argument >> 16) & 0xFFFF);
                var iovecs = new FuseIoctlIovec[ins + outs];
                for (int i = 0; i < iovecs.Length; i++) iovecs[i] = new FuseIoctlIovec(ManyIovecsBase + (ulong)i, 1);
                reply.IoctlRetry(request, iovecs.AsSpan(0, ins), iovecs.AsSpan(ins));
                return;
            }
            case LongIovecIoctl:
                reply.IoctlRetry(request, [new FuseIoctlIovec(ManyIovecsBase, request.Argument)], []);
                return;
            default:
                reply.Error(ENOTTY);
                return;
        }
    }

    public void Poll(FuseReply reply, in FusePollIn request)
    {
        uint ready = 0x4 | 0x100; // POLLOUT | POLLWRNORM: writes never wait here
        bool scheduled = false;
        lock (_lock)
        {
            if (_destroyed) ready = 0x8 | 0x10; // POLLERR | POLLHUP
            else if (_messages.Count > 0) ready |= 0x1 | 0x40; // POLLIN | POLLRDNORM
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

    public void Release(FuseReply reply, in FuseReleaseIn request)
    {
        reply.Ok();
        Released.Release();
    }

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

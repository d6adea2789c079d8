using System.Buffers.Binary;
using AmpCan.Fuse;
using AmpCan.Fuse.Wire;
using AmpCan.SharedMem;
using Microsoft.Extensions.Logging.Abstractions;

namespace AmpCan.Tests.Host;

/// <summary>
/// A FUSE-mounted file standing in for <c>/dev/uioN</c> of a level-triggered interrupt, with uio_pdrv_genirq's
/// semantics: the interrupt fires when enabled and the line is high, which disables it and counts an event; a 4-byte
/// read returns the count once per event (EAGAIN otherwise: the doorbell opens it O_NONBLOCK); writing 1 re-enables it,
/// and with the line still high it fires again at once, which is the storm. The line is a model of the mailbox block
/// over a real memfd register map (<see cref="Line"/>), evaluated inside the write: the kernel blocks the writer until
/// this answers, so what the model sees is the register map exactly at the re-enable.
/// </summary>
internal sealed class UioInterruptStandIn : IFuseFileHandler, IDisposable
{
    public const string FileName = "uio0";
    private const ulong FileNode = 2;
    private const int ENOENT = 2, EAGAIN = 11, EINVAL = 22;
    private readonly object _lock = new();
    private readonly Dictionary<ulong, long> _seen = [];
    private readonly List<ulong> _pollers = [];
    private readonly FuseServer _server;
    private readonly string _mountPoint;
    private ulong _nextHandle = 1;
    private long _events;
    private bool _enabled;

    private UioInterruptStandIn(string mountPoint, Func<bool> line)
    {
        _mountPoint = mountPoint;
        Line = line;
        _server = FuseServer.Mount(mountPoint, "ampcan-uio", this, NullLogger.Instance);
    }

    /// <summary>Mounts the stand-in, or ignores the test when this machine cannot mount FUSE (saying why).</summary>
    public static UioInterruptStandIn Mount(Func<bool> line)
    {
        if (!File.Exists("/dev/fuse")) Assert.Ignore("/dev/fuse is missing on this machine: the UIO interrupt stand-in cannot be mounted");
        string dir = Directory.CreateTempSubdirectory("ampcan-uio-").FullName;
        try
        {
            return new UioInterruptStandIn(dir, line);
        }
        catch (FuseMountException e)
        {
            Directory.Delete(dir);
            Assert.Ignore($"mounting a FUSE file system is not permitted here ({e.Message}); run as root or with CAP_SYS_ADMIN");
            throw;
        }
    }

    /// <summary>The path of the device file.</summary>
    public string DevicePath => Path.Combine(_mountPoint, FileName);

    /// <summary>Whether the block's interrupt output is asserted now (reads the register map).</summary>
    public Func<bool> Line { get; }

    /// <summary>Interrupts delivered (events counted).</summary>
    public long Events { get { lock (_lock) return _events; } }

    /// <summary>The line's level at each re-enable (write of 1), in order.</summary>
    public List<bool> LineAtEnable { get; } = [];

    /// <summary>What the hardware does when the remote raises its source: fires if enabled and the line is high.</summary>
    public void Raise()
    {
        ulong[] wake;
        lock (_lock) wake = FireIfDue();
        Notify(wake);
    }

    // Caller holds _lock.
    private ulong[] FireIfDue()
    {
        if (!_enabled || !Line()) return [];
        _enabled = false; // uio_pdrv_genirq's handler: disable_irq_nosync, count, wake readers
        _events++;
        ulong[] wake = [.. _pollers];
        _pollers.Clear();
        return wake;
    }

    private void Notify(ulong[] handles)
    {
        foreach (ulong kh in handles) _server.Replies.NotifyPoll(kh);
    }

    private static FuseAttr Attr(ulong node) => node == FuseProtocol.RootId ? new FuseAttr(node, 0, 0x41ED, 2, 0, 0, 0) : new FuseAttr(node, 0, 0x81B6, 1, 0, 0, 0);

    public void Lookup(FuseReply reply, ulong parent, ReadOnlySpan<byte> name)
    {
        if (parent == FuseProtocol.RootId && FuseServer.NameText(name) == FileName) reply.Entry(new FuseEntryOut(FileNode, 0, 1, 1, Attr(FileNode)));
        else reply.Error(ENOENT);
    }

    public void GetAttr(FuseReply reply, ulong nodeId, in FuseGetAttrIn request)
    {
        if (nodeId is FuseProtocol.RootId or FileNode) reply.Attr(new FuseAttrOut(1, Attr(nodeId)));
        else reply.Error(ENOENT);
    }

    public void Open(FuseReply reply, ulong nodeId, in FuseOpenIn request)
    {
        ulong fh;
        lock (_lock)
        {
            fh = _nextHandle++;
            _seen[fh] = _events;
        }
        reply.Opened(fh, FuseOpenFlags.DirectIo | FuseOpenFlags.NonSeekable | FuseOpenFlags.Stream);
    }

    public void Read(FuseReply reply, in FuseReadIn request)
    {
        if (request.Size < 4) { reply.Error(EINVAL); return; }
        long count;
        lock (_lock)
        {
            count = _events;
            if (_seen[request.FileHandle] == count) count = -1;
            else _seen[request.FileHandle] = count;
        }
        if (count < 0) { reply.Error(EAGAIN); return; }
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)count);
        reply.Data(b);
    }

    public void Write(FuseReply reply, in FuseWriteIn request, ReadOnlySpan<byte> data)
    {
        if (data.Length != 4) { reply.Error(EINVAL); return; }
        uint value = BinaryPrimitives.ReadUInt32LittleEndian(data);
        ulong[] wake = [];
        lock (_lock)
        {
            if (value == 0) _enabled = false;
            else
            {
                LineAtEnable.Add(Line());
                _enabled = true;
                wake = FireIfDue(); // a level still high fires again the moment it is enabled
            }
        }
        reply.Written(request.Size);
        Notify(wake);
    }

    public void Ioctl(FuseReply reply, in FuseIoctlIn request, ReadOnlySpan<byte> input) => reply.Error(25);

    public void Poll(FuseReply reply, in FusePollIn request)
    {
        uint ready = 0x4 | 0x100;
        lock (_lock)
        {
            if (_seen.TryGetValue(request.FileHandle, out long seen) && seen != _events) ready |= 0x1 | 0x40;
            else if ((request.Flags & FusePollFlags.ScheduleNotify) != 0) _pollers.Add(request.KernelHandle);
        }
        reply.Poll(ready);
    }

    public void Flush(FuseReply reply, in FuseFlushIn request) => reply.Ok();

    public void Release(FuseReply reply, in FuseReleaseIn request) => reply.Ok();

    public void Interrupt(ulong unique) { }

    public void Dispose()
    {
        _server.Dispose();
        if (Directory.Exists(_mountPoint)) Directory.Delete(_mountPoint);
    }
}

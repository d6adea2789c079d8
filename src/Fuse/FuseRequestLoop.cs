using AmpCan.Fuse.Wire;
using AmpCan.SharedMem;
using Microsoft.Extensions.Logging;

namespace AmpCan.Fuse;

/// <summary>
/// The request loop both front ends share (<see cref="FuseServer"/> on /dev/fuse, <see cref="CuseServer"/> on
/// /dev/cuse): one thread reads one request per read(2) into a buffer allocated once, checks its lengths and hands it
/// to the <see cref="IFuseFileHandler"/>. Only the first request differs (FUSE_INIT or CUSE_INIT), so the server
/// passes that answer in as a <see cref="Handshake"/>. A malformed request or a failed reply costs that request
/// (logged), never the process.
/// </summary>
internal sealed class FuseRequestLoop : IDisposable
{
    /// <summary>Answers the first request (its body, lengths already checked); returns the agreed minor, 0 if refused.</summary>
    public delegate uint Handshake(FuseReply reply, ReadOnlySpan<byte> body);

    private const int EINTR = 4, EIO = 5, ENOENT = 2, EAGAIN = 11, EINVAL = 22, ENOSYS = 38, ENODEV = 19;
    private const int PageSize = 4096;

    private readonly FuseDevice _device;
    private readonly IFuseFileHandler _handler;
    private readonly ILogger _logger;
    private readonly FuseOpcode _initOpcode;
    private readonly int _initMinimumBody;
    private readonly Handshake _handshake;
    private readonly bool _hasNodes;
    private readonly byte[] _buffer;
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _initialized = new(), _ended = new();
    private long _rejected;
    private int _disposed;

    /// <param name="device">The connected device, owned from now on.</param>
    /// <param name="name">What the logs call it.</param>
    /// <param name="handler">Where file operations go.</param>
    /// <param name="logger">Where failures are told.</param>
    /// <param name="maxWrite">The largest WRITE payload agreed (sizes the buffer).</param>
    /// <param name="initOpcode">FUSE_INIT or CUSE_INIT: the first request.</param>
    /// <param name="initMinimumBody">Bytes that request's body has at least.</param>
    /// <param name="handshake">Its answer.</param>
    /// <param name="hasNodes">False for CUSE (one node, no LOOKUP/GETATTR): those are answered ENOSYS.</param>
    public FuseRequestLoop(FuseDevice device, string name, IFuseFileHandler handler, ILogger logger, int maxWrite,
        FuseOpcode initOpcode, int initMinimumBody, Handshake handshake, bool hasNodes)
    {
        _device = device;
        Name = name;
        _handler = handler;
        _logger = logger;
        _initOpcode = initOpcode;
        _initMinimumBody = initMinimumBody;
        _handshake = handshake;
        _hasNodes = hasNodes;
        Replies = new FuseReplyWriter(device, logger);
        // The largest request is a WRITE of max_write bytes after its two headers; the page of slack covers
        // extensions, and the kernel refuses buffers under FUSE_MIN_READ_BUFFER.
        _buffer = new byte[Math.Max(FuseProtocol.MinReadBuffer, FuseInHeader.Size + FuseWriteIn.WireSize + maxWrite + PageSize)];
        _thread = new Thread(Run) { IsBackground = true, Name = $"fuse {name}" };
    }

    /// <summary>What the logs call this loop.</summary>
    public string Name { get; }

    /// <summary>Writes replies and poll notifications.</summary>
    public FuseReplyWriter Replies { get; }

    /// <summary>The protocol minor version agreed by the first request (0 before).</summary>
    public uint NegotiatedMinor { get; private set; }

    /// <summary>Requests answered EINVAL because their lengths did not add up, or that arrived before the first.</summary>
    public long RejectedRequests => Interlocked.Read(ref _rejected);

    /// <summary>True once the loop has stopped reading (the device was unmounted, aborted or closed).</summary>
    public bool HasEnded => _ended.IsSet;

    /// <summary>Starts the loop thread.</summary>
    public void Start() => _thread.Start();

    /// <summary>Waits until the first request was answered (true), or the loop ended or the time ran out (false).</summary>
    public bool WaitInitialized(TimeSpan timeout)
    {
        if (_initialized.IsSet) return true;
        WaitHandle.WaitAny([_initialized.WaitHandle, _ended.WaitHandle], timeout);
        return _initialized.IsSet;
    }

    /// <summary>Waits for the loop to end; true when it did within <paramref name="timeout"/>.</summary>
    public bool WaitEnded(TimeSpan timeout) => !_thread.IsAlive || _thread.Join(timeout);

    /// <summary>Closes the device (after the loop ended, or at once if it will not: the descriptor closes when the read returns).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _device.Dispose();
        if (!_thread.IsAlive)
        {
            _initialized.Dispose();
            _ended.Dispose();
        }
    }

    /// <summary>Bytes the loop thread had allocated when it finished its last request (allocation per request, for benchmarks).</summary>
    public long AllocatedBytes => Volatile.Read(ref _allocated);

    private long _allocated;

    private void Run()
    {
        try
        {
            while (true)
            {
                int n = _device.Read(_buffer);
                if (n < 0)
                {
                    // ENOENT: the request being read was interrupted; EAGAIN/EINTR: try again (libfuse does the same).
                    if (n is -ENOENT or -EAGAIN or -EINTR) continue;
                    if (n == -ENODEV) _logger.LogInformation("FUSE connection of {Name} ended (unmounted or aborted)", Name);
                    else _logger.LogError("Reading the FUSE device of {Name} failed: errno {Errno}; serving stops", Name, -n);
                    return;
                }
                if (n == 0)
                {
                    // /dev/fuse never does this; a stand-in's socket does when its peer closes.
                    _logger.LogInformation("FUSE device of {Name} closed by its peer", Name);
                    return;
                }
                ServeOne(_buffer.AsSpan(0, n));
                // One cheap read per request, so a benchmark can count what serving allocates on this thread alone.
                Volatile.Write(ref _allocated, GC.GetAllocatedBytesForCurrentThread());
            }
        }
        catch (Exception e)
        {
            _logger.LogError(e, "FUSE loop for {Name} failed; serving stops", Name);
        }
        finally
        {
            _ended.Set();
        }
    }

    private void ServeOne(ReadOnlySpan<byte> request)
    {
        if (request.Length < FuseInHeader.Size)
        {
            Interlocked.Increment(ref _rejected);
            _logger.LogWarning("FUSE request of {Length} bytes is shorter than its header; ignored", request.Length);
            return;
        }
        var header = FuseInHeader.Read(request);
        var reply = new FuseReply(Replies, header.Unique);
        int extension = header.TotalExtLength * 8;
        if (header.Length != request.Length || FuseInHeader.Size + extension > request.Length)
        {
            Reject(reply, header, $"says {header.Length} bytes with {extension} of extensions, {request.Length} arrived");
            return;
        }
        ReadOnlySpan<byte> body = request[FuseInHeader.Size..^extension];
        try
        {
            Dispatch(reply, header, body);
        }
        catch (Exception e)
        {
            _logger.LogError(e, "FUSE {Opcode} (request {Unique}) failed; answered EIO", (FuseOpcode)header.Opcode, header.Unique);
            reply.Error(EIO);
        }
    }

    private void Dispatch(FuseReply reply, in FuseInHeader header, ReadOnlySpan<byte> body)
    {
        var opcode = (FuseOpcode)header.Opcode;
        if (NegotiatedMinor == 0)
        {
            if (opcode != _initOpcode) { Reject(reply, header, $"arrived before {_initOpcode}"); return; }
            if (body.Length < _initMinimumBody) { Reject(reply, header, $"body of {body.Length} bytes"); return; }
            uint minor = _handshake(reply, body);
            if (minor != 0)
            {
                NegotiatedMinor = minor;
                _initialized.Set();
            }
            return;
        }
        switch (opcode)
        {
            case FuseOpcode.Lookup when _hasNodes:
                int nul = body.IndexOf((byte)0);
                if (nul < 0) { Reject(reply, header, "name without its NUL"); return; }
                _handler.Lookup(reply, header.NodeId, body[..nul]);
                return;
            case FuseOpcode.GetAttr when _hasNodes:
                if (body.Length < FuseGetAttrIn.Size) { Reject(reply, header, $"body of {body.Length} bytes"); return; }
                _handler.GetAttr(reply, header.NodeId, FuseGetAttrIn.Read(body));
                return;
            case FuseOpcode.OpenDir when _hasNodes:
                if (body.Length < FuseOpenIn.Size) { Reject(reply, header, $"body of {body.Length} bytes"); return; }
                _handler.OpenDir(reply, header.NodeId, FuseOpenIn.Read(body));
                return;
            case FuseOpcode.ReadDir when _hasNodes:
                if (body.Length < FuseReadIn.WireSize) { Reject(reply, header, $"body of {body.Length} bytes"); return; }
                _handler.ReadDir(reply, FuseReadIn.Read(body));
                return;
            case FuseOpcode.ReleaseDir when _hasNodes:
                if (body.Length < FuseReleaseIn.Size) { Reject(reply, header, $"body of {body.Length} bytes"); return; }
                _handler.ReleaseDir(reply, FuseReleaseIn.Read(body));
                return;
            case FuseOpcode.Open:
                if (body.Length < FuseOpenIn.Size) { Reject(reply, header, $"body of {body.Length} bytes"); return; }
                _handler.Open(reply, header.NodeId, FuseOpenIn.Read(body));
                return;
            case FuseOpcode.Read:
                if (body.Length < FuseReadIn.WireSize) { Reject(reply, header, $"body of {body.Length} bytes"); return; }
                _handler.Read(reply, FuseReadIn.Read(body));
                return;
            case FuseOpcode.Write:
            {
                if (body.Length < FuseWriteIn.WireSize) { Reject(reply, header, $"body of {body.Length} bytes"); return; }
                var write = FuseWriteIn.Read(body);
                ReadOnlySpan<byte> data = body[FuseWriteIn.WireSize..];
                if (write.Size != data.Length) { Reject(reply, header, $"size {write.Size} with {data.Length} data bytes"); return; }
                _handler.Write(reply, write, data);
                return;
            }
            case FuseOpcode.Ioctl:
            {
                if (body.Length < FuseIoctlIn.Size) { Reject(reply, header, $"body of {body.Length} bytes"); return; }
                var ioctl = FuseIoctlIn.Read(body);
                ReadOnlySpan<byte> input = body[FuseIoctlIn.Size..];
                if (ioctl.InSize != input.Length) { Reject(reply, header, $"in_size {ioctl.InSize} with {input.Length} bytes"); return; }
                _handler.Ioctl(reply, ioctl, input);
                return;
            }
            case FuseOpcode.Poll:
                if (body.Length < FusePollIn.Size) { Reject(reply, header, $"body of {body.Length} bytes"); return; }
                _handler.Poll(reply, FusePollIn.Read(body));
                return;
            case FuseOpcode.Flush:
                if (body.Length < FuseFlushIn.Size) { Reject(reply, header, $"body of {body.Length} bytes"); return; }
                _handler.Flush(reply, FuseFlushIn.Read(body));
                return;
            case FuseOpcode.Release:
                if (body.Length < FuseReleaseIn.Size) { Reject(reply, header, $"body of {body.Length} bytes"); return; }
                _handler.Release(reply, FuseReleaseIn.Read(body));
                return;
            case FuseOpcode.Interrupt:
                // No reply is owed to an INTERRUPT itself; a short one is dropped.
                if (body.Length < FuseInterruptIn.Size) { Interlocked.Increment(ref _rejected); return; }
                _handler.Interrupt(FuseInterruptIn.Read(body).Unique);
                return;
            case FuseOpcode.Forget:
            case FuseOpcode.BatchForget:
                return; // no reply; our nodes are static
            case FuseOpcode.Destroy:
                reply.Ok();
                return;
            default:
                reply.Error(ENOSYS);
                return;
        }
    }

    private void Reject(FuseReply reply, in FuseInHeader header, string why)
    {
        Interlocked.Increment(ref _rejected);
        _logger.LogWarning("FUSE {Opcode} (request {Unique}) malformed: {Why}; answered EINVAL",
            (FuseOpcode)header.Opcode, header.Unique, why);
        reply.Error(EINVAL);
    }
}

using System.Text;
using AmpCan.Fuse.Wire;
using AmpCan.SharedMem;
using Microsoft.Extensions.Logging;

namespace AmpCan.Fuse;

/// <summary>
/// A FUSE file system served over the raw kernel protocol (no libfuse): mounts /dev/fuse at a directory, answers
/// INIT itself, reads one request per read(2) into a buffer allocated once, and hands file operations to an
/// <see cref="IFuseFileHandler"/>; everything else is answered ENOSYS. A malformed request or a failed reply costs
/// that request (logged), never the process.
/// </summary>
public sealed class FuseServer : IDisposable
{
    private const int EINTR = 4, EIO = 5, ENOENT = 2, EAGAIN = 11, EINVAL = 22, ENOSYS = 38, ENODEV = 19, EPROTO = 71;
    private const int PageSize = 4096;

    private readonly FuseDevice _device;
    private readonly IFuseFileHandler _handler;
    private readonly ILogger _logger;
    private readonly FuseServerOptions _options;
    private readonly byte[] _buffer;
    private readonly Thread _loop;
    private readonly ManualResetEventSlim _initialized = new();
    private int _disposed;
    private long _rejected;

    private FuseServer(FuseDevice device, string name, string? mountPoint, IFuseFileHandler handler, ILogger logger, FuseServerOptions options)
    {
        _device = device;
        Name = name;
        MountPoint = mountPoint;
        _handler = handler;
        _logger = logger;
        _options = options;
        Replies = new FuseReplyWriter(device, logger);
        // The largest request is a WRITE of max_write bytes after its two headers; the page of slack covers
        // extensions, and the kernel refuses buffers under FUSE_MIN_READ_BUFFER.
        _buffer = new byte[Math.Max(FuseProtocol.MinReadBuffer, FuseInHeader.Size + FuseWriteIn.WireSize + options.MaxWrite + PageSize)];
        _loop = new Thread(Run) { IsBackground = true, Name = $"fuse {name}" };
    }

    /// <summary>What the logs call this server: the mount point, or the name given to <see cref="Serve"/>.</summary>
    public string Name { get; }

    /// <summary>The directory the file system is mounted on; null for a server started by <see cref="Serve"/>.</summary>
    public string? MountPoint { get; }

    /// <summary>Writes replies and poll notifications (for handlers answering later).</summary>
    public FuseReplyWriter Replies { get; }

    /// <summary>The protocol minor version agreed at INIT (0 before).</summary>
    public uint NegotiatedMinor { get; private set; }

    /// <summary>Requests answered EINVAL because their lengths did not add up, or that arrived before INIT.</summary>
    public long RejectedRequests => Interlocked.Read(ref _rejected);

    /// <summary>
    /// Opens /dev/fuse, mounts it at <paramref name="mountPoint"/> as <c>fuse.<paramref name="subtype"/></c> and starts
    /// serving; throws <see cref="FuseMountException"/> (with the errno) when the device or the mount is refused.
    /// </summary>
    public static FuseServer Mount(string mountPoint, string subtype, IFuseFileHandler handler, ILogger logger, FuseServerOptions? options = null)
    {
        options ??= new FuseServerOptions();
        if (options.MaxWrite < PageSize || options.MaxWrite > 256 * PageSize)
            throw new ArgumentOutOfRangeException(nameof(options), options.MaxWrite, "MaxWrite must be 4096 to 1048576 bytes");
        FuseDevice device;
        try
        {
            device = FuseDevice.Open("/dev/fuse");
        }
        catch (SharedMemoryException e)
        {
            throw new FuseMountException("open /dev/fuse", e.Errno);
        }
        int rc = device.Mount(mountPoint, subtype, options.MountOptions);
        if (rc < 0)
        {
            device.Dispose();
            throw new FuseMountException($"mount fuse.{subtype} at '{mountPoint}'", -rc);
        }
        return Start(device, mountPoint, mountPoint, handler, logger, options);
    }

    /// <summary>
    /// Serves <paramref name="device"/>, already connected (taking ownership of it), without mounting anything; the
    /// loop ends when the device reports ENODEV or end of file. <paramref name="name"/> names it in the logs.
    /// </summary>
    public static FuseServer Serve(FuseDevice device, string name, IFuseFileHandler handler, ILogger logger, FuseServerOptions? options = null)
    {
        options ??= new FuseServerOptions();
        if (options.MaxWrite < PageSize || options.MaxWrite > 256 * PageSize)
            throw new ArgumentOutOfRangeException(nameof(options), options.MaxWrite, "MaxWrite must be 4096 to 1048576 bytes");
        return Start(device, name, null, handler, logger, options);
    }

    private static FuseServer Start(FuseDevice device, string name, string? mountPoint, IFuseFileHandler handler, ILogger logger, FuseServerOptions options)
    {
        var server = new FuseServer(device, name, mountPoint, handler, logger, options);
        server._loop.Start();
        return server;
    }

    /// <summary>Waits until INIT was answered (the kernel holds every client call until then anyway).</summary>
    public bool WaitInitialized(TimeSpan timeout) => _initialized.Wait(timeout);

    /// <summary>Unmounts (lazily: open files keep working until closed), then waits for the loop to end and closes the device.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        if (MountPoint is not null)
        {
            int rc = FuseDevice.Unmount(MountPoint);
            if (rc < 0) _logger.LogWarning("Unmounting {MountPoint} failed: errno {Errno}", MountPoint, -rc);
        }
        if (_loop.IsAlive && !_loop.Join(_options.StopTimeout))
            _logger.LogWarning("FUSE loop for {Name} still running after unmount (files still open?)", Name);
        _device.Dispose();
        _initialized.Dispose();
    }

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
                    if (n == -ENODEV) _logger.LogInformation("FUSE file system {Name} unmounted", Name);
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
            }
        }
        catch (Exception e)
        {
            _logger.LogError(e, "FUSE loop for {Name} failed; serving stops", Name);
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
        if (NegotiatedMinor == 0 && opcode != FuseOpcode.Init)
        {
            Reject(reply, header, "arrived before INIT");
            return;
        }
        switch (opcode)
        {
            case FuseOpcode.Init:
                if (body.Length < FuseInitIn.CompatSize) { Reject(reply, header, $"body of {body.Length} bytes"); return; }
                Init(reply, FuseInitIn.Read(body));
                return;
            case FuseOpcode.Lookup:
                int nul = body.IndexOf((byte)0);
                if (nul < 0) { Reject(reply, header, "name without its NUL"); return; }
                _handler.Lookup(reply, header.NodeId, body[..nul]);
                return;
            case FuseOpcode.GetAttr:
                if (body.Length < FuseGetAttrIn.Size) { Reject(reply, header, $"body of {body.Length} bytes"); return; }
                _handler.GetAttr(reply, header.NodeId, FuseGetAttrIn.Read(body));
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

    private void Init(FuseReply reply, in FuseInitIn init)
    {
        if (init.Major > FuseProtocol.Major)
        {
            // The kernel offers a newer major: answer ours alone and wait for the INIT it resends.
            Span<byte> major = stackalloc byte[FuseInitOut.Size];
            new FuseInitOut(FuseProtocol.Major, 0, 0, 0, 0, 0, 0, 0, 0, 0).Write(major);
            reply.Data(major[..8]);
            return;
        }
        if (init.Major < FuseProtocol.Major || init.Minor < FuseProtocol.MinimumMinor)
        {
            _logger.LogError("The kernel speaks FUSE {Major}.{Minor}; {OurMajor}.{OurMinimum} or later is needed (FOPEN_STREAM)",
                init.Major, init.Minor, FuseProtocol.Major, FuseProtocol.MinimumMinor);
            reply.Error(EPROTO);
            return;
        }
        uint minor = Math.Min(init.Minor, FuseProtocol.Minor);
        uint flags = init.Flags & (FuseInitFlags.MaxPages | FuseInitFlags.BigWrites);
        ushort maxPages = (ushort)((_options.MaxWrite + PageSize - 1) / PageSize);
        Span<byte> body = stackalloc byte[FuseInitOut.Size];
        new FuseInitOut(FuseProtocol.Major, minor, init.MaxReadahead, flags, 0, 0, (uint)_options.MaxWrite, 1, maxPages, 0).Write(body);
        if (reply.Data(body))
        {
            NegotiatedMinor = minor;
            _logger.LogInformation("FUSE {Major}.{Minor} for {Name} (kernel offers 7.{KernelMinor}), max_write {MaxWrite}",
                FuseProtocol.Major, minor, Name, init.Minor, _options.MaxWrite);
            _initialized.Set();
        }
    }

    private void Reject(FuseReply reply, in FuseInHeader header, string why)
    {
        Interlocked.Increment(ref _rejected);
        _logger.LogWarning("FUSE {Opcode} (request {Unique}) malformed: {Why}; answered EINVAL",
            (FuseOpcode)header.Opcode, header.Unique, why);
        reply.Error(EINVAL);
    }

    /// <summary>The name bytes of a LOOKUP as text (for handlers comparing names).</summary>
    public static string NameText(ReadOnlySpan<byte> name) => Encoding.UTF8.GetString(name);
}

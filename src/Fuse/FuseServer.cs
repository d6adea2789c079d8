using System.Text;
using AmpCan.Fuse.Wire;
using AmpCan.SharedMem;
using Microsoft.Extensions.Logging;

namespace AmpCan.Fuse;

/// <summary>
/// A FUSE file system served over the raw kernel protocol (no libfuse): mounts /dev/fuse at a directory, answers
/// INIT itself and hands file operations to an <see cref="IFuseFileHandler"/> through the request loop it shares with
/// <see cref="CuseServer"/>; everything else is answered ENOSYS. A malformed request or a failed reply costs that
/// request (logged), never the process.
/// </summary>
public sealed class FuseServer : IDisposable
{
    private const int EPROTO = 71;
    private const int PageSize = 4096;

    private readonly FuseRequestLoop _loop;
    private readonly ILogger _logger;
    private readonly FuseServerOptions _options;
    private int _disposed;

    private FuseServer(FuseDevice device, string name, string? mountPoint, IFuseFileHandler handler, ILogger logger, FuseServerOptions options)
    {
        MountPoint = mountPoint;
        _logger = logger;
        _options = options;
        _loop = new FuseRequestLoop(device, name, handler, logger, options.MaxWrite,
            FuseOpcode.Init, FuseInitIn.CompatSize, Init, hasNodes: true);
    }

    /// <summary>What the logs call this server: the mount point, or the name given to <see cref="Serve"/>.</summary>
    public string Name => _loop.Name;

    /// <summary>The directory the file system is mounted on; null for a server started by <see cref="Serve"/>.</summary>
    public string? MountPoint { get; }

    /// <summary>Writes replies and poll notifications (for handlers answering later).</summary>
    public FuseReplyWriter Replies => _loop.Replies;

    /// <summary>The protocol minor version agreed at INIT (0 before).</summary>
    public uint NegotiatedMinor => _loop.NegotiatedMinor;

    /// <summary>Requests answered EINVAL because their lengths did not add up, or that arrived before INIT.</summary>
    public long RejectedRequests => _loop.RejectedRequests;

    /// <summary>Bytes the loop thread had allocated after its last request: sampled before and after a run, what serving allocated.</summary>
    public long LoopAllocatedBytes => _loop.AllocatedBytes;

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
    public bool WaitInitialized(TimeSpan timeout) => _loop.WaitInitialized(timeout);

    /// <summary>Unmounts (lazily: open files keep working until closed), then waits for the loop to end and closes the device.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        if (MountPoint is not null)
        {
            int rc = FuseDevice.Unmount(MountPoint);
            if (rc < 0) _logger.LogWarning("Unmounting {MountPoint} failed: errno {Errno}", MountPoint, -rc);
        }
        if (!_loop.WaitEnded(_options.StopTimeout))
            _logger.LogWarning("FUSE loop for {Name} still running after unmount (files still open?)", Name);
        _loop.Dispose();
    }

    private uint Init(FuseReply reply, ReadOnlySpan<byte> request)
    {
        var init = FuseInitIn.Read(request);
        if (init.Major > FuseProtocol.Major)
        {
            // The kernel offers a newer major: answer ours alone and wait for the INIT it resends.
            Span<byte> major = stackalloc byte[FuseInitOut.Size];
            new FuseInitOut(FuseProtocol.Major, 0, 0, 0, 0, 0, 0, 0, 0, 0).Write(major);
            reply.Data(major[..8]);
            return 0;
        }
        if (init.Major < FuseProtocol.Major || init.Minor < FuseProtocol.MinimumMinor)
        {
            _logger.LogError("The kernel speaks FUSE {Major}.{Minor}; {OurMajor}.{OurMinimum} or later is needed (FOPEN_STREAM)",
                init.Major, init.Minor, FuseProtocol.Major, FuseProtocol.MinimumMinor);
            reply.Error(EPROTO);
            return 0;
        }
        uint minor = Math.Min(init.Minor, FuseProtocol.Minor);
        uint flags = init.Flags & (FuseInitFlags.MaxPages | FuseInitFlags.BigWrites);
        ushort maxPages = (ushort)((_options.MaxWrite + PageSize - 1) / PageSize);
        Span<byte> body = stackalloc byte[FuseInitOut.Size];
        new FuseInitOut(FuseProtocol.Major, minor, init.MaxReadahead, flags, 0, 0, (uint)_options.MaxWrite, 1, maxPages, 0).Write(body);
        // An ioctl's data travels in at most max_pages pages each way (fs/fuse/ioctl.c); without FUSE_MAX_PAGES the
        // kernel keeps its default of 32.
        Replies.MaxIoctlBytes = ((flags & FuseInitFlags.MaxPages) != 0 ? maxPages : FuseProtocol.DefaultMaxPages) * PageSize;
        if (!reply.Data(body)) return 0;
        _logger.LogInformation("FUSE {Major}.{Minor} for {Name} (kernel offers 7.{KernelMinor}), max_write {MaxWrite}",
            FuseProtocol.Major, minor, Name, init.Minor, _options.MaxWrite);
        return minor;
    }

    /// <summary>The name bytes of a LOOKUP as text (for handlers comparing names).</summary>
    public static string NameText(ReadOnlySpan<byte> name) => Encoding.UTF8.GetString(name);
}

using System.Text;
using AmpCan.Fuse.Wire;
using AmpCan.SharedMem;
using Microsoft.Extensions.Logging;

namespace AmpCan.Fuse;

/// <summary>
/// One character device served over CUSE (fs/fuse/cuse.c) with the raw protocol: opens /dev/cuse, answers CUSE_INIT
/// with DEVNAME=, then runs the request loop it shares with <see cref="FuseServer"/> (OPEN, READ, WRITE, IOCTL, POLL,
/// FLUSH, RELEASE, INTERRUPT to the <see cref="IFuseFileHandler"/>; CUSE has one node, so no LOOKUP or GETATTR). The
/// device lives as long as this server: <see cref="Dispose"/> ends the connection, and the kernel removes the node
/// and fails the calls of descriptors still open.
/// </summary>
public sealed class CuseServer : IDisposable
{
    private const int EPROTO = 71, EEXIST = 17, PageSize = 4096;

    private readonly FuseRequestLoop _loop;
    private readonly ILogger _logger;
    private readonly CuseServerOptions _options;
    private bool _opened; // on /dev/cuse (not a stand-in): the device, once registered, is ours to abort
    private int _disposed;

    private CuseServer(FuseDevice device, CuseServerOptions options, IFuseFileHandler handler, ILogger logger)
    {
        _options = options;
        _logger = logger;
        _loop = new FuseRequestLoop(device, "cuse " + options.DeviceName, handler, logger, options.MaxTransferSize,
            FuseOpcode.CuseInit, CuseInitIn.Size, Init, hasNodes: false);
    }

    /// <summary>The device's name (DEVNAME).</summary>
    public string DeviceName => _options.DeviceName;

    /// <summary>The device's node and number; null for a server started by <see cref="Serve"/>.</summary>
    public CuseDeviceNode? Node { get; private set; }

    /// <summary>Writes replies and poll notifications (for handlers answering later).</summary>
    public FuseReplyWriter Replies => _loop.Replies;

    /// <summary>The protocol minor version agreed at CUSE_INIT (0 before).</summary>
    public uint NegotiatedMinor => _loop.NegotiatedMinor;

    /// <summary>The protocol minor version the kernel offered at CUSE_INIT (0 before).</summary>
    public uint KernelMinor { get; private set; }

    /// <summary>True when CUSE_UNRESTRICTED_IOCTL was agreed: ioctls arrive without data and may be retried.</summary>
    public bool UnrestrictedIoctl { get; private set; }

    /// <summary>Requests answered EINVAL because their lengths did not add up, or that arrived before CUSE_INIT.</summary>
    public long RejectedRequests => _loop.RejectedRequests;

    /// <summary>True once the connection ended (the server was disposed, or the device aborted through sysfs).</summary>
    public bool HasEnded => _loop.HasEnded;

    /// <summary>
    /// Opens /dev/cuse and creates the device: waits (up to <see cref="CuseServerOptions.NodeTimeout"/>) until CUSE
    /// registered it and /dev/NAME is its character device, then applies the configured owner, group and mode.
    /// Throws <see cref="ArgumentException"/> for bad options, <see cref="FuseMountException"/> naming the device or
    /// path otherwise (EPERM/EACCES/ENOENT on /dev/cuse: not available here; EEXIST: the name is taken).
    /// </summary>
    public static CuseServer Open(CuseServerOptions options, IFuseFileHandler handler, ILogger logger)
    {
        options.Validate();
        if (CuseDeviceNode.Exists(options.DeviceName))
            throw FuseMountException.Because($"a CUSE device named '{options.DeviceName}' exists already ({CuseDeviceNode.SysfsDirectory(options.DeviceName)})", EEXIST);
        FuseDevice device;
        try
        {
            device = FuseDevice.Open("/dev/cuse");
        }
        catch (SharedMemoryException e)
        {
            throw new FuseMountException("open /dev/cuse", e.Errno);
        }
        var server = new CuseServer(device, options, handler, logger) { _opened = true };
        server._loop.Start();
        try
        {
            if (!server._loop.WaitInitialized(options.NodeTimeout))
                throw FuseMountException.Because(server._loop.HasEnded
                    ? $"CUSE device '{options.DeviceName}': the connection ended before CUSE_INIT was answered (see the log)"
                    : $"CUSE device '{options.DeviceName}': no CUSE_INIT within {options.NodeTimeout.TotalSeconds:F1} s", EPROTO);
            var node = CuseDeviceNode.WaitFor(options.DeviceName, options.NodeTimeout, () => server._loop.HasEnded, logger);
            server.Node = node;
            node.Apply(options.NodeOwner, options.NodeGroup, options.NodeMode);
            logger.LogInformation("CUSE device {Name} is {Path}, {Major}:{Minor} (FUSE 7.{Minor2}, kernel offers 7.{KernelMinor}, unrestricted ioctl {Unrestricted})",
                options.DeviceName, node.Path, node.Major, node.Minor, server.NegotiatedMinor, server.KernelMinor, server.UnrestrictedIoctl);
            return server;
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Serves <paramref name="device"/>, already connected (a kernel stand-in's socket; taking ownership of it), as a
    /// CUSE channel: answers CUSE_INIT and dispatches, without any node. The loop ends when the device reports ENODEV
    /// or end of file.
    /// </summary>
    public static CuseServer Serve(FuseDevice device, CuseServerOptions options, IFuseFileHandler handler, ILogger logger)
    {
        options.Validate();
        var server = new CuseServer(device, options, handler, logger);
        server._loop.Start();
        return server;
    }

    /// <summary>Waits until CUSE_INIT was answered (false when the time ran out or the connection ended first).</summary>
    public bool WaitInitialized(TimeSpan timeout) => _loop.WaitInitialized(timeout);

    /// <summary>
    /// Removes /dev/NAME (see <see cref="CuseDeviceNode.Hide"/>): new opens fail ENOENT, descriptors already open keep
    /// reaching the handler, which answers them as it likes (EPIPE for a destroyed endpoint) until their last close.
    /// </summary>
    public void Hide() => (Node ?? throw new InvalidOperationException($"CUSE device '{DeviceName}' has no node (served over a stand-in)")).Hide();

    /// <summary>
    /// Ends the connection (sysfs abort, as closing /dev/cuse would: the kernel removes the device and its node, and
    /// fails calls on descriptors still open), waits for the loop to see it, and closes /dev/cuse.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        // The loop sits in read(2) on /dev/cuse, which nothing but the connection's end returns from (closing the
        // descriptor under it would not); the abort attribute ends it the way the final close would anyway.
        // A device whose node never appeared is aborted by name too (else it would stay registered); the name was free
        // before we opened, and a loop still running means the kernel registered it as ours.
        if (_opened && !_loop.HasEnded) CuseDeviceNode.Abort(DeviceName, _logger);
        if (!_loop.WaitEnded(_options.StopTimeout))
            _logger.LogWarning("CUSE loop for {Name} still running after the abort", DeviceName);
        _loop.Dispose();
    }

    private uint Init(FuseReply reply, ReadOnlySpan<byte> request)
    {
        var init = CuseInitIn.Read(request);
        if (init.Major != FuseProtocol.Major || init.Minor < FuseProtocol.MinimumMinor)
        {
            _logger.LogError("The kernel speaks CUSE {Major}.{Minor}; {OurMajor}.{OurMinimum} or later is needed",
                init.Major, init.Minor, FuseProtocol.Major, FuseProtocol.MinimumMinor);
            reply.Error(EPROTO);
            return 0;
        }
        uint minor = Math.Min(init.Minor, FuseProtocol.Minor);
        uint flags = _options.UnrestrictedIoctl ? init.Flags & FuseInitFlags.CuseUnrestrictedIoctl : 0;
        // The device info that follows cuse_init_out: NUL-terminated KEY=VALUE strings, of which cuse.c knows DEVNAME.
        string info = "DEVNAME=" + _options.DeviceName + "\0";
        Span<byte> body = stackalloc byte[CuseInitOut.Size + Encoding.ASCII.GetByteCount(info)];
        new CuseInitOut(FuseProtocol.Major, minor, flags, (uint)_options.MaxTransferSize, (uint)_options.MaxTransferSize,
            _options.DeviceMajor, _options.DeviceMinor).Write(body);
        Encoding.ASCII.GetBytes(info, body[CuseInitOut.Size..]);
        UnrestrictedIoctl = flags != 0;
        KernelMinor = init.Minor;
        Replies.MaxIoctlBytes = FuseProtocol.DefaultMaxPages * PageSize;
        return reply.Data(body) ? minor : 0;
    }
}

using System.Net.Sockets;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Diagnostics;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Vring;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AmpCan.VhostUser;

/// <summary>
/// Serves one <see cref="IVirtioDevice"/> to vhost-user front ends (QEMU) on a UNIX socket: one front end at a time;
/// when it leaves, the device is reset, everything of its session is unmapped and closed, and the next is accepted.
/// </summary>
/// <remarks>
/// The device runs on <paramref name="loop"/> (which the host starts); the protocol runs on a thread of this back
/// end. Nothing a front end sends can end the process: a refused request costs an error answer or that connection.
/// Compose one per socket: <c>new VhostUserBackend(device, path, loop).Start()</c>, and for N devices one per path of
/// <see cref="VhostUserSocketPaths.Expand"/>, each with its own device instance.
/// </remarks>
public sealed class VhostUserBackend(IVirtioDevice device, string socketPath, NotificationLoop loop, VhostUserBackendOptions? options = null, ILogger? logger = null)
    : IVirtioDeviceTransport
{
    private readonly VhostUserBackendOptions _options = options ?? new VhostUserBackendOptions();
    private readonly ILogger _logger = logger ?? NullLogger.Instance;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private UnixFdChannel.Listener? _listener;
    private Thread? _thread;
    private VhostUserSession? _session;
    private long _sessionsEnded;
    private int _disposed;

    /// <summary>The device served.</summary>
    public IVirtioDevice Device { get; } = Validated(device);

    /// <summary>The socket path front ends connect to.</summary>
    public string SocketPath { get; } = socketPath;

    /// <summary>True while a front end is connected.</summary>
    public bool IsConnected => Volatile.Read(ref _session) is not null;

    /// <summary>True while the device is activated over a front end's rings.</summary>
    public bool IsDeviceActive => Volatile.Read(ref _session)?.IsActive ?? false;

    /// <summary>How many front-end sessions have ended so far.</summary>
    public long SessionsEnded => Interlocked.Read(ref _sessionsEnded);

    /// <summary>Raised on the back end's thread when a front end's session has ended and been cleaned up, with the reason.</summary>
    public event Action<string>? SessionEnded;

    private static IVirtioDevice Validated(IVirtioDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (device.QueueCount is < 1 or > 256)
            throw new ArgumentException($"a vhost-user device has 1 to 256 queues (an index has 8 bits); device {device.DeviceId} has {device.QueueCount}", nameof(device));
        if (device.MaxQueueSize < 1 || device.MaxQueueSize > Vring.VringLayout.MaxQueueSize || (device.MaxQueueSize & (device.MaxQueueSize - 1)) != 0)
            throw new ArgumentException($"device {device.DeviceId}'s largest queue size {device.MaxQueueSize} is not a power of two up to {Vring.VringLayout.MaxQueueSize}", nameof(device));
        if (device.ConfigLength < 0 || device.ConfigLength > VhostUserConnection.MaxConfigAccess)
            throw new ArgumentException($"device {device.DeviceId}'s config space of {device.ConfigLength} bytes is beyond what vhost-user carries ({VhostUserConnection.MaxConfigAccess})", nameof(device));
        return device;
    }

    /// <summary>
    /// Binds the socket (mode 0600) and starts serving. Throws <see cref="SharedMemoryException"/> naming the path when
    /// it is not a socket, is in use by a live listener, or cannot be bound.
    /// </summary>
    public void Start()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_thread is not null) throw new InvalidOperationException($"vhost-user back end on '{SocketPath}' already started");
        _listener = UnixFdChannel.Listener.Bind(SocketPath);
        _thread = new Thread(Serve) { Name = $"vhost-user {Path.GetFileName(SocketPath)}", IsBackground = true };
        _thread.Start();
        _logger.LogInformation("vhost-user: serving virtio device {DeviceId} ({Queues} queues) on {Path}", Device.DeviceId, Device.QueueCount, SocketPath);
    }

    /// <summary>
    /// Tells the connected front end that the device's config space changed (BACKEND_CONFIG_CHANGE_MSG); false when
    /// no front end is connected or it did not negotiate CONFIG with a back-end request channel.
    /// </summary>
    public bool NotifyConfigChanged() => Volatile.Read(ref _session)?.NotifyConfigChanged() ?? false;

    private void Serve()
    {
        RateLimitedLog peerLog = _options.PeerErrorLog ?? new RateLimitedLog();
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = _listener!.Accept(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                if (_stop.IsCancellationRequested) return;
                _logger.LogError("vhost-user {Path}: accept failed: {Reason}", SocketPath, e.Message);
                continue;
            }
            ServeOne(socket, peerLog);
        }
    }

    private void ServeOne(Socket socket, RateLimitedLog peerLog)
    {
        string reason = "not started";
        var connection = new VhostUserConnection(socket);
        VhostUserSession? session = null;
        try
        {
            session = new VhostUserSession(connection, Device, loop, _options, _logger, peerLog, SocketPath);
            lock (_gate)
            {
                if (_stop.IsCancellationRequested) return;
                Volatile.Write(ref _session, session);
            }
            _logger.LogInformation("vhost-user {Path}: a front end connected", SocketPath);
            session.Run();
            reason = session.EndReason;
        }
        catch (Exception e)
        {
            // The socket thread must survive anything: this front end is dropped, the next one is served.
            _logger.LogError(e, "vhost-user {Path}: session failed", SocketPath);
            reason = $"internal error: {e.Message}";
        }
        finally
        {
            lock (_gate) Volatile.Write(ref _session, null);
            try { session?.Dispose(); }
            catch (Exception e) { _logger.LogError(e, "vhost-user {Path}: cleaning up the session failed", SocketPath); }
            connection.Dispose();
            Interlocked.Increment(ref _sessionsEnded);
        }
        _logger.LogInformation("vhost-user {Path}: front end gone ({Reason}); device reset, waiting for the next", SocketPath, reason);
        try { SessionEnded?.Invoke(reason); }
        catch (Exception e) { _logger.LogError(e, "vhost-user {Path}: session-ended handler failed", SocketPath); }
    }

    /// <summary>Disconnects the front end (resetting the device, unmapping its memory), stops listening and removes the socket file.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        lock (_gate)
        {
            _stop.Cancel();
            Volatile.Read(ref _session)?.Shutdown();
        }
        if (_thread is not null && _thread != Thread.CurrentThread) _thread.Join();
        _listener?.Dispose();
        _stop.Dispose();
    }
}

using AmpCan.Fuse;
using Microsoft.Extensions.Logging;

namespace AmpCan.RpmsgChar.FrontEnds;

/// <summary>
/// The CUSE front end: every rpmsg_char file as a real character device under /dev, one /dev/cuse connection each,
/// made when the file appears (so a node exists when RPMSG_CREATE_EPT_IOCTL returns, as devtmpfs's does) and hidden
/// when it goes; a hidden device's connection stays until its last opener closes (their calls answered EPIPE), then
/// ends. Dispose ends every connection.
/// </summary>
public sealed class RpmsgCharCuseDevices : IDisposable
{
    private readonly Lock _gate = new();
    private readonly RpmsgCharDevices _devices;
    private readonly RpmsgCharFileAccess _access;
    private readonly ILogger _logger;
    private readonly Dictionary<RpmsgCharNode, (CuseServer Server, CuseRpmsgNode Handler)> _served = [];
    private readonly Dictionary<string, Task> _ending = [];
    private bool _disposed;

    private RpmsgCharCuseDevices(RpmsgCharDevices devices, RpmsgCharFileAccess access, ILogger logger)
    {
        _devices = devices;
        _access = access;
        _logger = logger;
    }

    /// <summary>Devices served now (hidden ones still held open included).</summary>
    public int Count { get { lock (_gate) return _served.Count; } }

    /// <summary>
    /// Starts serving <paramref name="devices"/>' files as character devices; throws <see cref="FuseMountException"/>
    /// when /dev/cuse cannot be used here (checked by opening it once before anything else).
    /// </summary>
    public static RpmsgCharCuseDevices Start(RpmsgCharDevices devices, RpmsgCharFileAccess access, ILogger logger)
    {
        try { AmpCan.SharedMem.FuseDevice.Open("/dev/cuse").Dispose(); }
        catch (AmpCan.SharedMem.SharedMemoryException e) { throw new FuseMountException("open /dev/cuse", e.Errno); }
        var front = new RpmsgCharCuseDevices(devices, access.Validated(), logger);
        devices.Added += front.OnAdded;
        devices.Removed += front.OnRemoved;
        foreach (RpmsgCharNode node in devices.Files) front.OnAdded(node);
        return front;
    }

    private void OnAdded(RpmsgCharNode node)
    {
        Task? ending;
        lock (_gate)
        {
            if (_disposed || _served.ContainsKey(node)) return;
            ending = _ending.GetValueOrDefault(node.Name);
        }
        // A number freed by a device whose connection is still ending: its name is free once that ends.
        ending?.Wait(TimeSpan.FromSeconds(10));
        var handler = new CuseRpmsgNode(node, OnLastClose);
        CuseServer server;
        try
        {
            server = CuseServer.Open(new CuseServerOptions
            {
                DeviceName = node.Name,
                NodeOwner = _access.Owner,
                NodeGroup = _access.Group,
                NodeMode = _access.Mode,
                MaxTransferSize = 4096,
            }, handler, _logger);
        }
        catch (Exception e) when (e is FuseMountException or IOException or UnauthorizedAccessException)
        {
            _logger.LogError("rpmsg_char: no character device for {Name}: {Reason}", node.Name, e.Message);
            return;
        }
        bool keep;
        lock (_gate)
        {
            keep = !_disposed && !node.IsRemoved;
            if (keep) _served[node] = (server, handler);
        }
        if (!keep) server.Dispose(); // removed (or stopping) while its device was being made
    }

    private void OnRemoved(RpmsgCharNode node)
    {
        (CuseServer Server, CuseRpmsgNode Handler) served;
        lock (_gate)
            if (!_served.TryGetValue(node, out served)) return;
        // The path goes at once; the connection stays for descriptors still open, whose calls get EPIPE.
        try { served.Server.Hide(); }
        catch (Exception e) when (e is IOException or InvalidOperationException) { _logger.LogWarning("rpmsg_char: hiding /dev/{Name}: {Reason}", node.Name, e.Message); }
        if (served.Handler.Opens == 0) End(node);
    }

    // On the device's own loop thread: its connection is ended from another thread (ending joins that loop).
    private void OnLastClose(CuseRpmsgNode handler)
    {
        if (handler.Node.IsRemoved) End(handler.Node);
    }

    private void End(RpmsgCharNode node)
    {
        lock (_gate)
        {
            if (!_served.Remove(node, out var served)) return;
            Task ending = Task.Run(served.Server.Dispose);
            _ending[node.Name] = ending;
            ending.ContinueWith(_ => { lock (_gate) if (_ending.GetValueOrDefault(node.Name) == ending) _ending.Remove(node.Name); }, TaskScheduler.Default);
        }
    }

    /// <summary>Ends every connection (the board is stopped by then: every file is removed and every held call answered).</summary>
    public void Dispose()
    {
        List<CuseServer> servers;
        Task[] ending;
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            servers = [.. _served.Values.Select(s => s.Server)];
            _served.Clear();
            ending = [.. _ending.Values];
        }
        _devices.Added -= OnAdded;
        _devices.Removed -= OnRemoved;
        foreach (CuseServer s in servers) s.Dispose();
        Task.WaitAll(ending, TimeSpan.FromSeconds(10));
    }
}

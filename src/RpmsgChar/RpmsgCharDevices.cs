using AmpCan.Rpmsg;
using AmpCan.RpmsgChar.Wire;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AmpCan.RpmsgChar;

/// <summary>
/// Every rpmsg_char file of one service, across its rpmsg devices (one per remote core, a new one after each recovery):
/// names and numbers as Linux gives them (<c>rpmsg_ctrlN</c>, <c>rpmsgN</c>, each N the lowest free, freed when a
/// removed file's last opener leaves), and the files' coming and going for a front end to show.
/// </summary>
public sealed class RpmsgCharDevices
{
    private readonly Lock _gate = new();
    private readonly ILogger _logger;
    private readonly Dictionary<string, RpmsgCharNode> _live = [];
    private readonly HashSet<int> _ctrlIds = [], _endpointIds = [];
    private readonly Dictionary<RpmsgCtrlDevice, List<RpmsgEndpointDevice>> _made = [];
    private readonly HashSet<RpmsgCharNode> _removed = [];
    private ulong _nextNode = 2; // 1 is a front end's root directory

    /// <summary>A set with <paramref name="logger"/> for what peers and clients cause.</summary>
    public RpmsgCharDevices(ILogger? logger = null, int queueCapacity = 256, int maxEndpointDevices = 1024)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(queueCapacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxEndpointDevices, 1);
        _logger = logger ?? NullLogger.Instance;
        QueueCapacity = queueCapacity;
        MaxEndpointDevices = maxEndpointDevices;
    }

    /// <summary>Messages an endpoint device queues for a reader before it drops the newest.</summary>
    public int QueueCapacity { get; }

    /// <summary>Endpoint devices that may exist at once (clients cannot grow our memory without bound): ENOSPC beyond.</summary>
    public int MaxEndpointDevices { get; }

    /// <summary>Local channels one control device may hold (CREATE_DEV beyond it is ENXIO).</summary>
    public int MaxLocalChannels => MaxEndpointDevices;

    /// <summary>A file appeared.</summary>
    public event Action<RpmsgCharNode>? Added;

    /// <summary>A file disappeared (its path no longer resolves; open descriptors get EPIPE).</summary>
    public event Action<RpmsgCharNode>? Removed;

    /// <summary>The files that exist now.</summary>
    public IReadOnlyList<RpmsgCharNode> Files
    {
        get { lock (_gate) return [.. _live.Values.OrderBy(n => n.NodeId)]; }
    }

    /// <summary>The file named <paramref name="name"/>, if it exists.</summary>
    public RpmsgCharNode? Find(string name)
    {
        lock (_gate) return _live.GetValueOrDefault(name);
    }

    /// <summary>The file whose <see cref="RpmsgCharNode.NodeId"/> is <paramref name="nodeId"/>, if it exists (a front end's inode lookup, no copy of the list).</summary>
    public RpmsgCharNode? Find(ulong nodeId)
    {
        lock (_gate)
            foreach (RpmsgCharNode n in _live.Values)
                if (n.NodeId == nodeId) return n;
        return null;
    }

    /// <summary>rpmsg_char's id table: channels with these names get an endpoint device of their own.</summary>
    public static bool BindsRpmsgChar(string channelName) => channelName is "rpmsg-raw" or "rpmsg_chrdev";

    /// <summary>
    /// Serves <paramref name="bus"/>: its control device appears, and channels the remote announces as rpmsg-raw or
    /// rpmsg_chrdev get their devices. Call before the bus starts (the board host's BindRpmsg); everything goes when the
    /// bus shuts down.
    /// </summary>
    public RpmsgCtrlDevice Bind(RpmsgBus bus)
    {
        ArgumentNullException.ThrowIfNull(bus);
        RpmsgCtrlDevice ctrl;
        lock (_gate)
        {
            int id = LowestFree(_ctrlIds);
            ctrl = new RpmsgCtrlDevice(this, id, _nextNode++, bus, _logger);
            _ctrlIds.Add(id);
            _made[ctrl] = [];
            _live[ctrl.Name] = ctrl;
        }
        foreach (string name in new[] { "rpmsg-raw", "rpmsg_chrdev" })
            bus.RegisterDriver(name, channel => ProbeChannel(ctrl, channel));
        bus.ChannelRemoved += channel => RemoveChannelDevice(ctrl, channel);
        bus.ShutDown += _ => Unbind(ctrl);
        _logger.LogInformation("{Ctrl} serves rpmsg device {Device}", ctrl.Name, bus.Name);
        Raise(Added, ctrl);
        return ctrl;
    }

    // rpmsg_chrdev_probe: the channel's default endpoint, its messages queued for the device's reader.
    private RpmsgEndpoint? ProbeChannel(RpmsgCtrlDevice ctrl, RpmsgChannel channel)
    {
        RpmsgEndpointDevice? device = CreateEndpointDevice(ctrl, new RpmsgEndpointInfo(channel.Name, RpmsgAddress.Any, channel.RemoteAddress), channelDevice: true, channel);
        if (device is null) return null;
        RpmsgEndpoint ep = ctrl.Bus.CreateEndpoint(channel, device.OnMessage);
        device.AttachDefault(ep);
        return ep;
    }

    private void RemoveChannelDevice(RpmsgCtrlDevice ctrl, RpmsgChannel channel)
    {
        RpmsgEndpointDevice? device;
        lock (_gate) device = _made.GetValueOrDefault(ctrl)?.FirstOrDefault(d => d.Channel == channel);
        device?.Destroy();
    }

    private void Unbind(RpmsgCtrlDevice ctrl)
    {
        List<RpmsgEndpointDevice> made;
        lock (_gate) made = _made.TryGetValue(ctrl, out var list) ? [.. list] : [];
        ctrl.Remove(made);
        lock (_gate) _made.Remove(ctrl);
    }

    internal RpmsgEndpointDevice? CreateEndpointDevice(RpmsgCtrlDevice ctrl, RpmsgEndpointInfo info, bool channelDevice, RpmsgChannel? channel = null)
    {
        RpmsgEndpointDevice device;
        lock (_gate)
        {
            if (_endpointIds.Count >= MaxEndpointDevices)
            {
                _logger.LogWarning("{Ctrl}: no endpoint device made for {Name}: {Max} exist already", ctrl.Name, info.Name, MaxEndpointDevices);
                return null;
            }
            if (!_made.TryGetValue(ctrl, out List<RpmsgEndpointDevice>? made)) return null; // the rpmsg device is leaving
            int id = LowestFree(_endpointIds);
            device = new RpmsgEndpointDevice(this, id, _nextNode++, ctrl, info, channelDevice, _logger) { Channel = channel };
            _endpointIds.Add(id);
            made.Add(device);
            _live[device.Name] = device;
        }
        Raise(Added, device);
        return device;
    }

    /// <summary>The file leaves the directory (its id stays taken while it is open).</summary>
    internal void Remove(RpmsgCharNode node)
    {
        lock (_gate)
        {
            if (!_live.TryGetValue(node.Name, out RpmsgCharNode? live) || live != node) return;
            _live.Remove(node.Name);
            _removed.Add(node);
            if (node is RpmsgEndpointDevice d && _made.TryGetValue(d.Owner, out var made)) made.Remove(d);
        }
        Raise(Removed, node);
    }

    /// <summary>A removed file's last opener left: its number may be given again.</summary>
    internal void Free(RpmsgCharNode node)
    {
        lock (_gate)
        {
            if (!_removed.Remove(node)) return; // still listed, or freed already
            (node is RpmsgCtrlDevice ? _ctrlIds : _endpointIds).Remove(node.Id);
        }
    }

    private static int LowestFree(HashSet<int> used)
    {
        int id = 0;
        while (used.Contains(id)) id++;
        return id;
    }

    private void Raise(Action<RpmsgCharNode>? handler, RpmsgCharNode node)
    {
        try { handler?.Invoke(node); }
        catch (Exception e) { _logger.LogError(e, "rpmsg_char: a handler for {File} failed", node.Name); }
    }
}

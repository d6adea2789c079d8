using AmpCan.Rpmsg;
using AmpCan.RpmsgChar.Wire;
using Microsoft.Extensions.Logging;

namespace AmpCan.RpmsgChar;

/// <summary>
/// The control device of one rpmsg device (<c>/dev/rpmsg_ctrlN</c>), as Linux's rpmsg_ctrl.c: RPMSG_CREATE_EPT_IOCTL
/// makes an endpoint device, RPMSG_CREATE_DEV_IOCTL / RPMSG_RELEASE_DEV_IOCTL create and release a local channel
/// (announced to the remote when its source address is fixed; a channel named rpmsg-raw or rpmsg_chrdev gets its
/// device, as rpmsg_char binds it), anything else is EINVAL. It goes away with its rpmsg device, taking every endpoint
/// device made through it.
/// </summary>
public sealed class RpmsgCtrlDevice : RpmsgCharNode
{
    private readonly Lock _gate = new();
    private readonly ILogger _logger;
    private readonly List<LocalChannel> _channels = [];
    private int _opens;
    private bool _gone;

    private sealed record LocalChannel(RpmsgEndpointInfo Info, RpmsgEndpoint? Endpoint, RpmsgEndpointDevice? Device);

    internal RpmsgCtrlDevice(RpmsgCharDevices devices, int id, ulong nodeId, RpmsgBus bus, ILogger logger)
        : base(devices, id, $"rpmsg_ctrl{id}", nodeId)
    {
        Bus = bus;
        _logger = logger;
    }

    /// <summary>The rpmsg device this controls.</summary>
    public RpmsgBus Bus { get; }

    /// <inheritdoc/>
    public override bool IsRemoved { get { lock (_gate) return _gone; } }

    /// <inheritdoc/>
    public override bool IsOpen { get { lock (_gate) return _opens > 0; } }

    /// <summary>Bytes an unrestricted front end (CUSE) must fetch from the pointer argument first: rpmsg_ctrldev_ioctl copies the 40-byte info for every command.</summary>
    public const int IoctlInputSize = RpmsgEndpointInfo.Size;

    /// <summary>open(2): any number of openers (0), or -ENODEV once the rpmsg device left.</summary>
    public int Open()
    {
        lock (_gate)
        {
            if (_gone) return -RpmsgCharErrno.ENODEV;
            _opens++;
            return 0;
        }
    }

    /// <summary>The last close of one open.</summary>
    public void Release()
    {
        bool free;
        lock (_gate)
        {
            if (_opens > 0) _opens--;
            free = _gone && _opens == 0;
        }
        if (free) Devices.Free(this);
    }

    /// <summary>
    /// ioctl(2) with the 40 bytes at the pointer argument (<paramref name="input"/>; shorter when a restricted front end
    /// could not fetch them for a command that does not encode its size, which is never a valid one): 0 or -errno.
    /// </summary>
    public int Ioctl(uint command, ReadOnlySpan<byte> input)
    {
        if (input.Length < RpmsgEndpointInfo.Size) return -RpmsgCharErrno.EINVAL;
        RpmsgEndpointInfo info = RpmsgEndpointInfo.Read(input);
        lock (_gate)
        {
            // Linux would use the rpmsg device it no longer has; a client holding the old file gets ENODEV.
            if (_gone) return -RpmsgCharErrno.ENODEV;
            return command switch
            {
                RpmsgCharIoctl.CreateEndpoint => Devices.CreateEndpointDevice(this, info, channelDevice: false) is null ? -RpmsgCharErrno.ENOSPC : 0,
                RpmsgCharIoctl.CreateDevice => CreateChannelLocked(info),
                RpmsgCharIoctl.ReleaseDevice => ReleaseChannelLocked(info),
                _ => -RpmsgCharErrno.EINVAL,
            };
        }
    }

    // rpmsg_create_channel → __rpmsg_create_channel: refused (ENXIO at rpmsg_ctrl) when rpmsg_find_device matches a
    // channel device of the same rpmsg device: ours, the remote's, rpmsg_ctrl's own and the name service's.
    private int CreateChannelLocked(RpmsgEndpointInfo info)
    {
        if (ExistingChannels().Any(c => Matches(info, c)))
        {
            _logger.LogWarning("{Ctrl}: channel {Name}:{Src:x}:{Dst:x} already exists", Name, info.Name, info.Source, info.Destination);
            return -RpmsgCharErrno.ENXIO;
        }
        if (_channels.Count >= Devices.MaxLocalChannels) return -RpmsgCharErrno.ENXIO;
        RpmsgEndpoint? endpoint = null;
        RpmsgEndpointDevice? device = null;
        if (RpmsgCharDevices.BindsRpmsgChar(info.Name))
        {
            device = Devices.CreateEndpointDevice(this, info, channelDevice: true);
            if (device is null) return -RpmsgCharErrno.ENXIO;
            try
            {
                // rpmsg_dev_probe: the driver's endpoint on the channel's source, announced when that is fixed.
                endpoint = Bus.CreateEndpoint(info.Name, device.OnMessage, info.Source, info.Destination, announce: info.Source != RpmsgAddress.Any && info.Name.Length > 0);
                device.AttachDefault(endpoint);
            }
            catch (Exception e) when (e is RpmsgException or ArgumentException)
            {
                // Linux keeps the channel without a driver when the probe fails.
                _logger.LogWarning("{Ctrl}: channel {Name} created without its device: {Reason}", Name, info.Name, e.Message);
                device.Destroy();
                device = null;
            }
        }
        _channels.Add(new LocalChannel(info, endpoint, device));
        return 0;
    }

    private int ReleaseChannelLocked(RpmsgEndpointInfo info)
    {
        int at = _channels.FindIndex(c => Matches(info, c.Info));
        if (at < 0) return -RpmsgCharErrno.EINVAL;
        LocalChannel channel = _channels[at];
        _channels.RemoveAt(at);
        channel.Device?.Destroy();
        channel.Endpoint?.Dispose(); // announces the channel's end when it was announced
        return 0;
    }

    private IEnumerable<RpmsgEndpointInfo> ExistingChannels()
    {
        foreach (LocalChannel c in _channels) yield return c.Info;
        foreach (RpmsgChannel c in Bus.Channels) yield return new RpmsgEndpointInfo(c.Name, RpmsgAddress.Any, c.RemoteAddress);
        yield return new RpmsgEndpointInfo("rpmsg_ctrl", RpmsgAddress.Any, RpmsgAddress.Any);
        if (Bus.NameServiceEnabled) yield return new RpmsgEndpointInfo("rpmsg_ns", RpmsgAddress.NameService, RpmsgAddress.NameService);
    }

    // rpmsg_device_match: the query's ANY fields match anything; the name must be equal.
    private static bool Matches(RpmsgEndpointInfo query, RpmsgEndpointInfo channel) =>
        (query.Source == RpmsgAddress.Any || query.Source == channel.Source)
        && (query.Destination == RpmsgAddress.Any || query.Destination == channel.Destination)
        && query.Name == channel.Name;

    /// <summary>The rpmsg device left: every endpoint device made here and every local channel goes, then this file.</summary>
    internal void Remove(IEnumerable<RpmsgEndpointDevice> made)
    {
        List<LocalChannel> channels;
        lock (_gate)
        {
            if (_gone) return;
            _gone = true;
            channels = [.. _channels];
            _channels.Clear();
        }
        foreach (RpmsgEndpointDevice d in made) d.Destroy();
        foreach (LocalChannel c in channels) c.Device?.Destroy();
        Devices.Remove(this);
        if (!IsOpen) Devices.Free(this);
    }
}

namespace AmpCan.Rpmsg;

/// <summary>What became of a channel the peer announced.</summary>
internal enum ChannelAddResult
{
    Created,
    Duplicate,
    TooMany,
}

/// <summary>
/// The channels a peer announced and the drivers bound to channel names, as Linux's rpmsg core keeps rpmsg devices and
/// matches drivers to them. Bounded: a hostile peer cannot grow it past <see cref="RpmsgBus.MaxChannels"/>.
/// </summary>
internal sealed class RpmsgChannelTable
{
    private readonly Lock _gate = new();
    private readonly List<RpmsgChannel> _channels = [];
    private readonly Dictionary<string, Func<RpmsgChannel, RpmsgEndpoint?>> _drivers = new(StringComparer.Ordinal);

    /// <summary>A snapshot of the channels.</summary>
    public IReadOnlyList<RpmsgChannel> Snapshot { get { lock (_gate) return [.. _channels]; } }

    /// <summary>The peer's address of the first channel named <paramref name="name"/>, or null.</summary>
    public uint? AddressOf(string name)
    {
        lock (_gate)
            foreach (RpmsgChannel ch in _channels)
                if (ch.Name == name) return ch.RemoteAddress;
        return null;
    }

    /// <summary>Adds a channel (its driver's endpoint to take <paramref name="localAddress"/>); <paramref name="driver"/> is the probe bound to its name, if any.</summary>
    public ChannelAddResult Add(string name, uint address, out RpmsgChannel? channel, out Func<RpmsgChannel, RpmsgEndpoint?>? driver, uint localAddress = RpmsgAddress.Any)
    {
        channel = null;
        driver = null;
        lock (_gate)
        {
            if (_channels.Exists(c => c.Name == name && c.RemoteAddress == address)) return ChannelAddResult.Duplicate;
            if (_channels.Count >= RpmsgBus.MaxChannels) return ChannelAddResult.TooMany;
            channel = new RpmsgChannel(name, address) { LocalAddress = localAddress };
            _channels.Add(channel);
            _drivers.TryGetValue(name, out driver);
            return ChannelAddResult.Created;
        }
    }

    /// <summary>Removes the channel <paramref name="name"/> at <paramref name="address"/>; null when there is none.</summary>
    public RpmsgChannel? Remove(string name, uint address)
    {
        lock (_gate)
        {
            int i = _channels.FindIndex(c => c.Name == name && c.RemoteAddress == address);
            if (i < 0) return null;
            RpmsgChannel ch = _channels[i];
            _channels.RemoveAt(i);
            return ch;
        }
    }

    /// <summary>Binds <paramref name="probe"/> to <paramref name="name"/>; returns the channels already announced with no endpoint yet.</summary>
    public List<RpmsgChannel> RegisterDriver(string name, Func<RpmsgChannel, RpmsgEndpoint?> probe)
    {
        lock (_gate)
        {
            _drivers[name] = probe;
            return _channels.Where(c => c.Name == name && c.Endpoint is null).ToList();
        }
    }

    /// <summary>Removes every channel (the device stopped) and returns them.</summary>
    public List<RpmsgChannel> Clear()
    {
        lock (_gate)
        {
            List<RpmsgChannel> all = [.. _channels];
            _channels.Clear();
            return all;
        }
    }
}

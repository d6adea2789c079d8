namespace AmpCan.Rpmsg;

/// <summary>
/// The local endpoints by address, as Linux's endpoint idr: the lowest free address from 1024 for a dynamic one, and a
/// lookup the receive path makes without a lock. Adding or removing one (rare) publishes a new table; addresses below
/// <see cref="DirectAddresses"/> are also kept in an array, so delivering a message there costs one array read.
/// </summary>
internal sealed class RpmsgEndpointTable
{
    /// <summary>Addresses looked up by index rather than by hash.</summary>
    public const uint DirectAddresses = 2048;

    private readonly Lock _gate = new();
    private Dictionary<uint, RpmsgEndpoint> _byAddress = [];
    private readonly RpmsgEndpoint?[] _direct = new RpmsgEndpoint?[DirectAddresses];

    /// <summary>The endpoint at <paramref name="address"/>, or null (no lock; the receive path's lookup).</summary>
    public RpmsgEndpoint? Find(uint address) =>
        address < DirectAddresses ? Volatile.Read(ref _direct[address]) : Volatile.Read(ref _byAddress).GetValueOrDefault(address);

    /// <summary>A snapshot of every endpoint.</summary>
    public IReadOnlyCollection<RpmsgEndpoint> All => Volatile.Read(ref _byAddress).Values;

    /// <summary>
    /// Adds the endpoint <paramref name="create"/> makes for <paramref name="address"/> (ANY: the lowest free one from 1024).
    /// </summary>
    /// <exception cref="RpmsgException">The address is taken, or none is free.</exception>
    public RpmsgEndpoint Add(uint address, Func<uint, RpmsgEndpoint> create)
    {
        lock (_gate)
        {
            if (address == RpmsgAddress.Any) address = LowestFree();
            if (_byAddress.TryGetValue(address, out RpmsgEndpoint? taken))
                throw new RpmsgException(RpmsgError.InvalidAddress, $"address 0x{address:x} is already taken by {taken}");
            RpmsgEndpoint ep = create(address);
            Volatile.Write(ref _byAddress, new Dictionary<uint, RpmsgEndpoint>(_byAddress) { [address] = ep });
            if (address < DirectAddresses) Volatile.Write(ref _direct[address], ep);
            return ep;
        }
    }

    /// <summary>Removes <paramref name="ep"/> if it is still the endpoint at its address.</summary>
    public void Remove(RpmsgEndpoint ep)
    {
        lock (_gate)
        {
            if (!_byAddress.TryGetValue(ep.Address, out RpmsgEndpoint? current) || current != ep) return;
            var next = new Dictionary<uint, RpmsgEndpoint>(_byAddress);
            next.Remove(ep.Address);
            Volatile.Write(ref _byAddress, next);
            if (ep.Address < DirectAddresses) Volatile.Write(ref _direct[ep.Address], null);
        }
    }

    /// <summary>Removes every endpoint (the device stopped) and returns them.</summary>
    public IReadOnlyCollection<RpmsgEndpoint> Clear()
    {
        lock (_gate)
        {
            Dictionary<uint, RpmsgEndpoint> all = _byAddress;
            Volatile.Write(ref _byAddress, []);
            Array.Clear(_direct);
            return all.Values;
        }
    }

    // The lowest free address, as Linux's idr_alloc gives: a freed address is reused first.
    private uint LowestFree()
    {
        for (uint a = RpmsgAddress.FirstDynamic; a < RpmsgAddress.Any; a++)
            if (!_byAddress.ContainsKey(a)) return a;
        throw new RpmsgException(RpmsgError.InvalidAddress, "no free rpmsg address");
    }
}

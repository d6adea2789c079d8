namespace AmpCan.VirtioCan.Bus;

/// <summary>
/// An in-process CAN bus: every frame one member sends reaches every other member, in the order it was sent, as on a
/// wire. Members are device instances, driver instances, logs; each receives into a bounded queue of its own, so a
/// member that does not keep up loses frames (counted) instead of growing memory or holding the others up.
/// </summary>
public sealed class VirtualCanBus
{
    private readonly Lock _gate = new();
    private VirtualCanPort[] _ports = [];

    /// <summary>A bus with a name, for logs.</summary>
    public VirtualCanBus(string name) => Name = name;

    /// <summary>The bus's name.</summary>
    public string Name { get; }

    /// <summary>The members attached now.</summary>
    public IReadOnlyList<VirtualCanPort> Ports => Volatile.Read(ref _ports);

    /// <summary>Attaches a member that keeps up to <paramref name="capacity"/> frames it has not taken yet.</summary>
    public VirtualCanPort Attach(string name, int capacity = 256)
    {
        var port = new VirtualCanPort(this, name, capacity);
        lock (_gate) _ports = [.. _ports, port];
        return port;
    }

    internal void Detach(VirtualCanPort port)
    {
        lock (_gate) _ports = _ports.Where(p => p != port).ToArray();
    }

    // Queued under the bus's lock, so that every member sees every other member's frames in one order; the members
    // are woken after it (a wake-up is a system call, and the other senders need not wait for it).
    internal void Broadcast(VirtualCanPort from, in CanFrame frame)
    {
        VirtualCanPort[] ports;
        lock (_gate)
        {
            ports = _ports; // replaced, never changed in place: safe to walk again after the lock
            foreach (VirtualCanPort p in ports)
                if (p != from) p.Enqueue(frame);
                else if (p.ConfirmsTransmits) p.Enqueue(frame, echo: true); // in bus order, as SocketCAN's own-message echo
        }
        foreach (VirtualCanPort p in ports)
            if (p != from || p.ConfirmsTransmits) p.FrameArrived?.Invoke();
    }
}

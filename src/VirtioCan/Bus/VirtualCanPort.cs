namespace AmpCan.VirtioCan.Bus;

/// <summary>
/// One member's attachment to a <see cref="VirtualCanBus"/>: what it sends goes to every other member; what they send
/// waits here, up to its capacity (beyond it, frames are dropped and counted), until the member takes it.
/// </summary>
public sealed class VirtualCanPort : IDisposable
{
    private readonly VirtualCanBus _bus;
    private readonly CanFrame[] _ring;
    private int _head, _count; // under _ring's lock
    private long _dropped, _sent, _received;

    internal VirtualCanPort(VirtualCanBus bus, string name, int capacity)
    {
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity), "a port holds at least one frame");
        _bus = bus;
        Name = name;
        _ring = new CanFrame[capacity];
    }

    /// <summary>The member's name, for logs.</summary>
    public string Name { get; }

    /// <summary>Called (on the sender's thread) when a frame arrived here: wake whoever takes them.</summary>
    public Action? FrameArrived { get; set; }

    /// <summary>Frames lost because this member's queue was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Frames this member sent.</summary>
    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Frames this member took.</summary>
    public long Received => Interlocked.Read(ref _received);

    /// <summary>Frames waiting to be taken.</summary>
    public int Pending
    {
        get { lock (_ring) return _count; }
    }

    /// <summary>Puts a frame on the bus for every other member.</summary>
    public void Send(in CanFrame frame)
    {
        Interlocked.Increment(ref _sent);
        _bus.Broadcast(this, frame);
    }

    /// <summary>Takes the oldest frame waiting, if any.</summary>
    public bool TryReceive(out CanFrame frame)
    {
        lock (_ring)
        {
            if (_count == 0)
            {
                frame = default;
                return false;
            }
            frame = _ring[_head];
            _head = (_head + 1) % _ring.Length;
            _count--;
        }
        Interlocked.Increment(ref _received);
        return true;
    }

    /// <summary>Looks at the oldest frame waiting without taking it.</summary>
    public bool TryPeek(out CanFrame frame)
    {
        lock (_ring)
        {
            frame = _count == 0 ? default : _ring[_head];
            return _count != 0;
        }
    }

    internal void Enqueue(in CanFrame frame)
    {
        lock (_ring)
        {
            if (_count == _ring.Length)
            {
                Interlocked.Increment(ref _dropped);
                return;
            }
            _ring[(_head + _count) % _ring.Length] = frame;
            _count++;
        }
    }

    /// <summary>Leaves the bus.</summary>
    public void Dispose() => _bus.Detach(this);
}

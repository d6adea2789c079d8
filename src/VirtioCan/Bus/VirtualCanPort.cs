namespace AmpCan.VirtioCan.Bus;

/// <summary>
/// One member's attachment to a <see cref="VirtualCanBus"/>: what it sends goes to every other member; what they send
/// waits here, up to its capacity (beyond it, frames are dropped and counted), until the member takes it.
/// </summary>
/// <remarks>
/// Echoes of our own frames have room of their own beyond the capacity (<see cref="MaxUnconfirmed"/>), so a member
/// that is slow to take the others' frames never loses a confirmation it waits for.
/// </remarks>
public sealed class VirtualCanPort : ICanPort
{
    /// <summary>How many echoes a port has room for beyond its capacity.</summary>
    public const int EchoRoom = 64;

    private readonly VirtualCanBus _bus;
    private readonly CanFrame[] _ring;
    private readonly Lock _gate = new();
    private readonly int _capacity;
    private int _head, _count; // under _gate
    private int _wakeDue; // a frame was queued since the member was last woken
    private long _dropped, _sent, _received;

    internal VirtualCanPort(VirtualCanBus bus, string name, int capacity)
    {
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity), "a port holds at least one frame");
        _bus = bus;
        Name = name;
        _capacity = capacity;
        _ring = new CanFrame[capacity + EchoRoom];
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public Action? FrameArrived { get; set; }

    /// <inheritdoc/>
    public bool ConfirmsTransmits { get; set; }

    /// <inheritdoc/>
    public int MaxUnconfirmed => EchoRoom;

    /// <inheritdoc/>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Frames this member sent.</summary>
    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Frames this member took.</summary>
    public long Received => Interlocked.Read(ref _received);

    /// <inheritdoc/>
    public int Pending
    {
        get { lock (_gate) return _count; }
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Unpaced, the frame reaches the other members before this returns, and the answer is always
    /// <see cref="CanSendResult.Sent"/>; paced, it is <see cref="CanSendResult.Busy"/> while the bus's transmit queue is
    /// full. <see cref="CanSendResult.Down"/> once the bus is disposed.
    /// </remarks>
    public CanSendResult Send(in CanFrame frame)
    {
        CanSendResult result = _bus.Submit(this, frame);
        if (result == CanSendResult.Sent) Interlocked.Increment(ref _sent);
        return result;
    }

    /// <inheritdoc/>
    public bool TryReceive(out CanFrame frame)
    {
        lock (_gate)
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

    /// <inheritdoc/>
    public bool TryPeek(out CanFrame frame)
    {
        lock (_gate)
        {
            frame = _count == 0 ? default : _ring[_head];
            return _count != 0;
        }
    }

    internal void Enqueue(in CanFrame frame, bool echo = false)
    {
        lock (_gate)
        {
            if (_count >= (echo ? _ring.Length : _capacity))
            {
                Interlocked.Increment(ref _dropped);
                return;
            }
            ref CanFrame slot = ref _ring[(_head + _count) % _ring.Length];
            slot = frame;
            if (echo) slot.Kind |= CanFrameKind.Echo;
            _count++;
        }
        Volatile.Write(ref _wakeDue, 1);
    }

    // Called after the bus's lock: one wake-up however many frames were queued since the last.
    internal void WakeIfQueued()
    {
        if (Volatile.Read(ref _wakeDue) != 0 && Interlocked.Exchange(ref _wakeDue, 0) != 0) FrameArrived?.Invoke();
    }

    /// <summary>Leaves the bus.</summary>
    public void Dispose() => _bus.Detach(this);
}

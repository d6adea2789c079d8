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
    // Its adders are serialised by the bus's lock (every frame is queued in VirtualCanBus.Carry), its taker is the
    // member: the one-adder, one-taker queue every port uses, without a lock on the taker's side.
    private readonly CanFrameQueue _queue;
    private int _wakeDue; // a frame was queued since the member was last woken
    private long _sent, _received;

    internal VirtualCanPort(VirtualCanBus bus, string name, int capacity)
    {
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity), "a port holds at least one frame");
        _bus = bus;
        Name = name;
        _queue = new CanFrameQueue(capacity, errorRoom: 0, echoRoom: EchoRoom);
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
    public long Dropped => _queue.Dropped;

    /// <summary>Frames this member sent.</summary>
    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Frames this member took.</summary>
    public long Received => Interlocked.Read(ref _received);

    /// <inheritdoc/>
    public int Pending
    {
        get => _queue.Count;
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
        if (!_queue.TryTake(out frame)) return false;
        Interlocked.Increment(ref _received);
        return true;
    }

    /// <inheritdoc/>
    public bool TryPeek(out CanFrame frame) => _queue.TryPeek(out frame);

    internal void Enqueue(in CanFrame frame, bool echo = false)
    {
        CanFrame queued = frame;
        if (echo) queued.Kind |= CanFrameKind.Echo; // an echo has room of its own beyond the capacity
        if (!_queue.TryAdd(queued)) return; // counted by the queue
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

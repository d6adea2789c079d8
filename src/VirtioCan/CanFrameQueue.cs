namespace AmpCan.VirtioCan;

/// <summary>
/// A bounded queue of frames between one producer (a driver's loop) and one consumer (whoever takes the port's
/// frames): a fixed array, no lock, no allocation per frame. Frames beyond <see cref="Capacity"/> are dropped and
/// counted; confirmations (echoes, error frames) have room of their own beyond it, so a consumer that is slow to take
/// the bus's frames does not lose the one saying its transmit made it or its controller went bus-off.
/// </summary>
public sealed class CanFrameQueue
{
    private readonly CanFrame[] _ring;
    private readonly int _capacity;
    private long _head; // next to take; written by the consumer only
    private long _tail; // next to fill; written by the producer only
    private long _dropped;

    /// <summary>Room for <paramref name="capacity"/> frames and <paramref name="reserved"/> more confirmations.</summary>
    public CanFrameQueue(int capacity, int reserved)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(reserved);
        _capacity = capacity;
        _ring = new CanFrame[capacity + reserved];
    }

    /// <summary>Frames kept for the consumer, confirmations aside.</summary>
    public int Capacity => _capacity;

    /// <summary>Frames waiting.</summary>
    public int Count => (int)(Volatile.Read(ref _tail) - Volatile.Read(ref _head));

    /// <summary>Frames dropped because the queue was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Producer: queues a frame; false (counted as dropped) when full. A <paramref name="confirmation"/> may use the reserved room.</summary>
    public bool TryEnqueue(in CanFrame frame, bool confirmation = false)
    {
        long tail = _tail;
        if (tail - Volatile.Read(ref _head) >= (confirmation ? _ring.Length : _capacity))
        {
            Interlocked.Increment(ref _dropped);
            return false;
        }
        _ring[tail % _ring.Length] = frame;
        Volatile.Write(ref _tail, tail + 1); // release: the frame is in place before the consumer can see it
        return true;
    }

    /// <summary>Consumer: takes the oldest frame.</summary>
    public bool TryDequeue(out CanFrame frame)
    {
        long head = _head;
        if (head == Volatile.Read(ref _tail))
        {
            frame = default;
            return false;
        }
        frame = _ring[head % _ring.Length];
        Volatile.Write(ref _head, head + 1); // release: the slot is read before the producer may refill it
        return true;
    }

    /// <summary>Consumer: looks at the oldest frame without taking it.</summary>
    public bool TryPeek(out CanFrame frame)
    {
        long head = _head;
        if (head == Volatile.Read(ref _tail))
        {
            frame = default;
            return false;
        }
        frame = _ring[head % _ring.Length];
        return true;
    }
}

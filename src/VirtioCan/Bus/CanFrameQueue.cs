namespace AmpCan.VirtioCan.Bus;

/// <summary>
/// A bounded queue of frames between one thread that adds (a port's reader, a driver's loop) and one that takes (a device's loop, the port's user),
/// without locks: frames from other members fill up to the capacity; error frames have some room beyond it, and echoes
/// of our own frames more beyond that, so that neither a flood of data nor a burst of errors costs a confirmation.
/// </summary>
/// <remarks>
/// The adder writes a slot, then publishes it by moving the tail (release); the taker reads the tail (acquire), copies
/// the slot, then frees it by moving the head. Only the adder writes the tail and only the taker the head.
/// </remarks>
public sealed class CanFrameQueue
{
    private readonly CanFrame[] _slots;
    private readonly int _dataLimit, _errorLimit;
    private long _head; // next to take: written by the taker only
    private long _tail; // next to fill: written by the adder only
    private long _dropped;

    /// <summary>
    /// A queue holding <paramref name="capacity"/> data frames, <paramref name="errorRoom"/> more for error frames, and
    /// <paramref name="echoRoom"/> more still for echoes.
    /// </summary>
    public CanFrameQueue(int capacity, int errorRoom, int echoRoom)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(errorRoom);
        ArgumentOutOfRangeException.ThrowIfNegative(echoRoom);
        _dataLimit = capacity;
        _errorLimit = capacity + errorRoom;
        _slots = new CanFrame[capacity + errorRoom + echoRoom];
    }

    /// <summary>Frames not added because their kind's room was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Frames waiting.</summary>
    public int Count => (int)(Volatile.Read(ref _tail) - Volatile.Read(ref _head));

    /// <summary>
    /// Adds <paramref name="frame"/> (adder thread only) if its kind still has room: an echo up to the whole queue, an
    /// error frame up to the capacity and the error room, any other frame up to the capacity. False: not added.
    /// </summary>
    public bool TryAdd(in CanFrame frame)
    {
        long tail = _tail;
        long used = tail - Volatile.Read(ref _head);
        long limit = frame.IsEcho ? _slots.Length : frame.IsError ? _errorLimit : _dataLimit;
        if (used >= limit)
        {
            Interlocked.Increment(ref _dropped);
            return false;
        }
        _slots[tail % _slots.Length] = frame;
        Volatile.Write(ref _tail, tail + 1);
        return true;
    }

    /// <summary>Copies the oldest frame without taking it (taker thread only).</summary>
    public bool TryPeek(out CanFrame frame)
    {
        long head = _head;
        if (Volatile.Read(ref _tail) == head)
        {
            frame = default;
            return false;
        }
        frame = _slots[head % _slots.Length];
        return true;
    }

    /// <summary>Takes the oldest frame (taker thread only).</summary>
    public bool TryTake(out CanFrame frame)
    {
        if (!TryPeek(out frame)) return false;
        Volatile.Write(ref _head, _head + 1);
        return true;
    }
}

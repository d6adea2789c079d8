using AmpCan.VirtioCan.Bus;
namespace AmpCan.VirtioCan.SocketCan;

/// <summary>What <see cref="UnconfirmedFrames.Confirm"/> made of an echo.</summary>
/// <param name="Matched">The echo is of a frame awaiting one (false: of a frame sent before echoes were wanted).</param>
/// <param name="Restored">Older frames whose echoes the kernel lost, put back in the queue ahead of it.</param>
/// <param name="Skipped">Older frames passed over without a sign of loss (the bus reordered them): left unconfirmed.</param>
/// <param name="Refused">Echoes the queue had no room for.</param>
public readonly record struct EchoConfirmation(bool Matched, int Restored, int Skipped, int Refused);

/// <summary>
/// The frames a port sent while echoes are wanted, oldest first, until their echo comes back: what an echo is matched
/// against, and what restores an echo the kernel dropped from a full socket buffer once a later echo proves the frame
/// left (a controller sends one socket's frames in the order given).
/// </summary>
/// <remarks>
/// Senders add under a lock of the caller's, taken around the system call that sends, so that the order here is the
/// socket's. The reader confirms the oldest without the lock (<see cref="TryConfirmOldest"/>, the common case) and takes
/// the lock for the rest: an echo may come back before its sender has added the frame (vcan echoes within the send).
/// </remarks>
public sealed class UnconfirmedFrames
{
    private struct Entry
    {
        public CanFrame Frame;
        public long DropsBefore; // the kernel drops the reader had seen when the frame was sent
        public long SentAt;      // Stopwatch timestamp
    }

    private readonly Entry[] _entries;
    private long _head; // oldest: advanced by the reader (compare-and-swap outside the lock) and by Clear
    private long _tail; // next free: advanced under the lock

    /// <summary>Room for <paramref name="capacity"/> frames awaiting their echo.</summary>
    public UnconfirmedFrames(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _entries = new Entry[capacity];
    }

    /// <summary>Frames awaiting their echo.</summary>
    public int Count => (int)(Volatile.Read(ref _tail) - Volatile.Read(ref _head));

    /// <summary>True when no more may be sent before an echo comes back.</summary>
    public bool IsFull => Count >= _entries.Length;

    /// <summary>Records a frame just sent (under the caller's lock); false when full.</summary>
    public bool TryAdd(in CanFrame frame, long dropsSeen, long timestamp)
    {
        long tail = _tail;
        if (tail - Volatile.Read(ref _head) >= _entries.Length) return false;
        ref Entry e = ref _entries[tail % _entries.Length];
        e.Frame = frame;
        e.DropsBefore = dropsSeen;
        e.SentAt = timestamp;
        Volatile.Write(ref _tail, tail + 1);
        return true;
    }

    /// <summary>Removes the oldest frame if <paramref name="echo"/> is its echo (reader, without the lock); false otherwise.</summary>
    public bool TryConfirmOldest(in CanFrame echo)
    {
        long head = Volatile.Read(ref _head);
        if (head >= Volatile.Read(ref _tail) || !_entries[head % _entries.Length].Frame.SameOnWire(echo)) return false;
        // A Clear meanwhile moved the head: then this echo is of a frame no longer awaited, and the caller looks again under the lock.
        return Interlocked.CompareExchange(ref _head, head + 1, head) == head;
    }

    /// <summary>
    /// Matches <paramref name="echo"/> (reader, under the lock) against the frames awaiting one and queues what it
    /// confirms: the older frames it passes over, restored as echoes when the kernel dropped frames since they were sent
    /// (<paramref name="dropsSeen"/> grew past theirs), then the echo itself. An echo of no frame awaited is queued as it is.
    /// </summary>
    public EchoConfirmation Confirm(in CanFrame echo, long dropsSeen, CanFrameQueue queue)
    {
        long head = _head, tail = Volatile.Read(ref _tail);
        long match = -1;
        for (long i = head; i < tail; i++)
        {
            if (_entries[i % _entries.Length].Frame.SameOnWire(echo))
            {
                match = i;
                break;
            }
        }
        int restored = 0, skipped = 0, refused = 0;
        for (long i = head; i < match; i++)
        {
            ref Entry e = ref _entries[i % _entries.Length];
            if (dropsSeen > e.DropsBefore)
            {
                CanFrame again = e.Frame;
                again.Kind |= CanFrameKind.Echo;
                if (queue.TryAdd(again)) restored++;
                else refused++;
            }
            else skipped++;
        }
        if (match >= 0) Volatile.Write(ref _head, match + 1);
        if (!queue.TryAdd(echo)) refused++;
        return new EchoConfirmation(match >= 0, restored, skipped, refused);
    }

    /// <summary>
    /// Gives up (under the lock) on the frames sent before <paramref name="sentBefore"/> that the kernel may have dropped
    /// the echoes of (frames dropped since they were sent), when no later echo came to vouch for them: a frame may
    /// still be waiting for the bus, so none is restored: each goes to <paramref name="queue"/> as a lost echo
    /// (<see cref="CanFrameKind.Lost"/>) so that whoever waits for it fails it. Returns how many were given up.
    /// </summary>
    public int Abandon(long sentBefore, long dropsSeen, CanFrameQueue queue)
    {
        long head = _head, tail = Volatile.Read(ref _tail), i = head;
        while (i < tail && _entries[i % _entries.Length].SentAt < sentBefore && dropsSeen > _entries[i % _entries.Length].DropsBefore)
        {
            CanFrame lost = _entries[i % _entries.Length].Frame;
            lost.Kind |= CanFrameKind.Echo | CanFrameKind.Lost;
            queue.TryAdd(lost); // echoes have room of their own, one per unconfirmed frame
            i++;
        }
        if (i > head) Volatile.Write(ref _head, i);
        return (int)(i - head);
    }

    /// <summary>Gives up on every frame (under the lock; the queue's one adder): their socket is gone, no echo will come.</summary>
    public int AbandonAll(CanFrameQueue queue) => Abandon(long.MaxValue, long.MaxValue, queue);

    /// <summary>Forgets every frame (under the lock): their echoes are no longer wanted, or their socket is gone.</summary>
    public void Clear() => Volatile.Write(ref _head, Volatile.Read(ref _tail));
}

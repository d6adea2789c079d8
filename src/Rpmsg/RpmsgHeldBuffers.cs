using System.Collections.Concurrent;

namespace AmpCan.Rpmsg;

/// <summary>
/// Receive buffers a callback kept past its return (zero-copy receive): which are held, by which generation (so a
/// stale handle cannot release a buffer twice), and the queue of released ones that the receive path gives back to
/// the peer on its own thread.
/// </summary>
internal sealed class RpmsgHeldBuffers(int buffers)
{
    private readonly int[] _generation = new int[buffers]; // 0: not held
    private readonly ConcurrentQueue<int> _released = new();
    private int _releasedCount;
    private int _nextGeneration;
    private int _candidate = -1;  // the buffer whose callback is running (only it may be held)
    private bool _heldCandidate;

    /// <summary>The receive path is about to run a callback for <paramref name="bufferId"/>.</summary>
    public void BeginDelivery(int bufferId)
    {
        _candidate = bufferId;
        _heldCandidate = false;
    }

    /// <summary>The callback returned; true when it held the buffer (the transport must not recycle it).</summary>
    public bool EndDelivery()
    {
        _candidate = -1;
        return _heldCandidate;
    }

    /// <summary>Holds the buffer of the running callback.</summary>
    public int Hold(int bufferId)
    {
        if (bufferId != _candidate || _heldCandidate)
            throw new InvalidOperationException("a message can be held only once, and only inside its receive callback");
        int gen = Interlocked.Increment(ref _nextGeneration);
        if (gen == 0) gen = Interlocked.Increment(ref _nextGeneration);
        Volatile.Write(ref _generation[bufferId], gen);
        _heldCandidate = true;
        return gen;
    }

    /// <summary>Throws unless <paramref name="bufferId"/> is held by <paramref name="generation"/>.</summary>
    public void CheckHeld(int bufferId, int generation)
    {
        if (generation == 0 || Volatile.Read(ref _generation[bufferId]) != generation)
            throw new InvalidOperationException("this receive buffer was already released");
    }

    /// <summary>Releases a held buffer (any thread); it is queued for the receive path to recycle.</summary>
    public void Release(int bufferId, int generation)
    {
        if (generation == 0 || Interlocked.CompareExchange(ref _generation[bufferId], 0, generation) != generation)
            throw new InvalidOperationException("this receive buffer was already released");
        _released.Enqueue(bufferId);
        Interlocked.Increment(ref _releasedCount);
    }

    /// <summary>Takes a released buffer; one plain read when there is none, as on every pass of the loop.</summary>
    public bool TryTakeReleased(out int bufferId)
    {
        if (Volatile.Read(ref _releasedCount) == 0 || !_released.TryDequeue(out bufferId))
        {
            bufferId = -1;
            return false;
        }
        Interlocked.Decrement(ref _releasedCount);
        return true;
    }
}

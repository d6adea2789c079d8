namespace AmpCan.Rpmsg;

/// <summary>
/// The bounded receive queue of an endpoint without a callback: messages are copied out of shared memory (into pooled
/// arrays) so the receive buffer goes straight back to the peer. One semaphore count per queued message, plus one
/// token passed from waiter to waiter once the queue is closed, serves blocking, polling and async readers alike.
/// </summary>
internal sealed class RpmsgEndpointQueue(int capacity)
{
    private readonly RpmsgMessage[] _items = new RpmsgMessage[capacity];
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _available = new(0);
    private int _head;
    private int _count;
    private bool _closed;

    /// <summary>Messages waiting (a plain read, for pollers).</summary>
    public bool HasMessages => Volatile.Read(ref _count) != 0;

    /// <summary>True once closed and drained: a reader gets "destroyed".</summary>
    public bool IsClosedAndEmpty
    {
        get { lock (_gate) return _closed && _count == 0; }
    }

    /// <summary>Queues a copy of the payload; false when closed or full.</summary>
    public bool TryAdd(uint source, ReadOnlySpan<byte> payload)
    {
        lock (_gate)
        {
            if (_closed || _count == _items.Length) return false;
            _items[(_head + _count) % _items.Length] = new RpmsgMessage(source, payload);
            Volatile.Write(ref _count, _count + 1);
        }
        _available.Release();
        return true;
    }

    /// <summary>Takes a message if one is waiting, without blocking.</summary>
    public bool TryTake(out RpmsgMessage message)
    {
        if (_available.Wait(0)) return TryDequeueAfterWait(out message);
        message = default;
        return false;
    }

    /// <summary>Blocks until a message (or the closing token) is there; true when the semaphore was taken.</summary>
    public bool Wait(int milliseconds, CancellationToken cancellation) => _available.Wait(milliseconds, cancellation);

    /// <summary>Waits without blocking a thread.</summary>
    public Task WaitAsync(CancellationToken cancellation) => _available.WaitAsync(cancellation);

    /// <summary>Dequeues after the semaphore was taken; false when what was taken is the closing token (passed on to the next waiter).</summary>
    public bool TryDequeueAfterWait(out RpmsgMessage message)
    {
        lock (_gate)
        {
            if (_count > 0)
            {
                message = _items[_head];
                _items[_head] = default;
                _head = (_head + 1) % _items.Length;
                Volatile.Write(ref _count, _count - 1);
                return true;
            }
        }
        _available.Release(); // the closing token: every waiter sees it in turn
        message = default;
        return false;
    }

    /// <summary>Refuses further messages and wakes every waiter once the queue is drained.</summary>
    public void Close()
    {
        lock (_gate)
        {
            if (_closed) return;
            _closed = true;
        }
        _available.Release();
    }
}

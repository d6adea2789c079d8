namespace AmpCan.RpmsgChar;

/// <summary>
/// The receive queue of an endpoint device: a fixed ring of message slots, each as large as the device's MTU, allocated
/// once, so queueing a message is one copy and no allocation (Linux queues an sk_buff per message, without bound; here a
/// reader that falls <see cref="Capacity"/> messages behind loses the newest, counted). Not thread-safe: the device's
/// lock guards it.
/// </summary>
internal sealed class RpmsgMessageRing(int capacity, int slotSize)
{
    private readonly byte[] _slots = new byte[capacity * slotSize];
    private readonly int[] _lengths = new int[capacity];
    private int _head;

    /// <summary>Messages the ring holds at most.</summary>
    public int Capacity => capacity;

    /// <summary>Messages queued.</summary>
    public int Count { get; private set; }

    /// <summary>Copies <paramref name="payload"/> in (cut to the slot size); false when full.</summary>
    public bool TryAdd(ReadOnlySpan<byte> payload)
    {
        if (Count == capacity) return false;
        int slot = (_head + Count) % capacity;
        int n = Math.Min(payload.Length, slotSize);
        payload[..n].CopyTo(_slots.AsSpan(slot * slotSize, n));
        _lengths[slot] = n;
        Count++;
        return true;
    }

    /// <summary>The oldest message (valid until <see cref="Drop"/>); empty span when there is none.</summary>
    public ReadOnlySpan<byte> Peek() => Count == 0 ? default : _slots.AsSpan(_head * slotSize, _lengths[_head]);

    /// <summary>Removes the oldest message.</summary>
    public void Drop()
    {
        if (Count == 0) return;
        _head = (_head + 1) % capacity;
        Count--;
    }

    /// <summary>Discards every message (rpmsg_eptdev_release's skb_queue_purge).</summary>
    public void Clear()
    {
        _head = 0;
        Count = 0;
    }
}

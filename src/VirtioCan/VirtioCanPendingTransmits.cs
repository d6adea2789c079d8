using AmpCan.Vring;

namespace AmpCan.VirtioCan;

/// <summary>A transmit awaiting its answer: its chain's head and where the one-byte answer goes (length 0: nowhere).</summary>
public readonly record struct VirtioCanPendingTransmit(ushort Head, BufferSegment Answer);

/// <summary>
/// Transmits handed to the bus and not yet answered (virtio-can's LATE_TX_ACK): the descriptor chain each came in and
/// the frame, oldest first, until the bus's echo of the frame confirms it. A fixed ring owned by the device's loop.
/// </summary>
/// <remarks>
/// Echoes come back in the order the frames were sent. An echo that matches a later entry than the oldest means the
/// older ones never made it onto the bus (a controller drops what it cannot send without echoing it), so they fail.
/// Frames are matched by content (identifier, kind, length, data: what SocketCAN gives back), so an echo of a frame
/// cancelled by STOP that arrives after an identical frame was queued again confirms that one a little early; the
/// bus did carry that content, and nothing is answered twice.
/// </remarks>
public sealed class VirtioCanPendingTransmits
{
    private readonly VirtioCanPendingTransmit[] _heads;
    private readonly CanFrame[] _frames;
    private int _first, _count;

    /// <summary>Room for <paramref name="capacity"/> unconfirmed transmits.</summary>
    public VirtioCanPendingTransmits(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _heads = new VirtioCanPendingTransmit[capacity];
        _frames = new CanFrame[capacity];
    }

    /// <summary>Transmits awaiting their echo.</summary>
    public int Count => _count;

    /// <summary>True when no more may be handed to the bus until an echo comes back.</summary>
    public bool IsFull => _count == _heads.Length;

    /// <summary>Records a transmit handed to the bus.</summary>
    public void Add(VirtioCanPendingTransmit head, in CanFrame frame)
    {
        if (IsFull) throw new InvalidOperationException("no room for another unconfirmed transmit");
        int at = (_first + _count) % _heads.Length;
        _heads[at] = head;
        _frames[at] = frame;
        _count++;
    }

    /// <summary>
    /// Takes the echo of <paramref name="echo"/>: every older transmit it skipped goes to <paramref name="failed"/>,
    /// the matching one to <paramref name="confirmed"/>. Returns false, changing nothing, when no pending transmit matches.
    /// </summary>
    public bool Confirm<TState>(in CanFrame echo, TState state, Action<TState, VirtioCanPendingTransmit> confirmed, Action<TState, VirtioCanPendingTransmit> failed)
    {
        int match = -1;
        for (int i = 0; i < _count; i++)
            if (_frames[(_first + i) % _heads.Length].SameOnWire(echo))
            {
                match = i;
                break;
            }
        if (match < 0) return false;
        for (int i = 0; i < match; i++) failed(state, TakeFirst());
        confirmed(state, TakeFirst());
        return true;
    }

    /// <summary>Takes every pending transmit, oldest first (STOP and bus-off cancel them).</summary>
    public void Drain<TState>(TState state, Action<TState, VirtioCanPendingTransmit> each)
    {
        while (_count > 0) each(state, TakeFirst());
    }

    /// <summary>Forgets every pending transmit without answering (device reset: the rings are gone).</summary>
    public void Clear() => _first = _count = 0;

    private VirtioCanPendingTransmit TakeFirst()
    {
        VirtioCanPendingTransmit head = _heads[_first];
        _first = (_first + 1) % _heads.Length;
        _count--;
        return head;
    }
}

using AmpCan.SharedMem;
using AmpCan.Vring;

namespace AmpCan.Remoteproc.Lifecycle;

/// <summary>
/// A ring that stops moving while work is pending: on a vring where AmpCan is the driver, buffers made available
/// (avail.idx) that the remote has not used (used.idx behind it), and used.idx unchanged for a whole period. A busy
/// remote still uses something within the period; a dead one uses nothing. Reads only the two 16-bit indices.
/// </summary>
public sealed class RingStallCheck : ICoreHealthCheck
{
    private readonly IoRegion _ring;
    private readonly VringLayout _layout;
    private readonly TimeSpan _period;
    private readonly string _name;
    private ushort _lastUsed;
    private TimeSpan _stalled;

    /// <summary>Watches the legacy split ring laid out in <paramref name="ring"/> (<paramref name="queueSize"/> entries, <paramref name="align"/>).</summary>
    public RingStallCheck(string name, IoRegion ring, int queueSize, ulong align, TimeSpan period)
    {
        _name = name;
        _layout = VringLayout.Legacy(queueSize, align);
        if (!ring.Contains(0, _layout.TotalSize)) throw new ArgumentException($"{name}: the ring's {_layout.TotalSize} bytes do not fit its {ring.Length}-byte window", nameof(ring));
        _ring = ring;
        _period = period;
        _lastUsed = UsedIndex;
    }

    // avail: flags, idx; used: flags, idx (virtio 1.x §2.7).
    private ushort AvailIndex => _ring.ReadU16Acquire(_layout.AvailOffset + 2);
    private ushort UsedIndex => _ring.ReadU16Acquire(_layout.UsedOffset + 2);

    /// <inheritdoc/>
    public string? Check(TimeSpan sinceLast)
    {
        ushort used = UsedIndex;
        ushort pending = (ushort)(AvailIndex - used);
        if (used != _lastUsed || pending == 0)
        {
            _lastUsed = used;
            _stalled = TimeSpan.Zero;
            return null;
        }
        _stalled += sinceLast;
        return _stalled >= _period ? $"{_name}: {pending} buffers pending and none used for {(long)_stalled.TotalMilliseconds} ms" : null;
    }
}

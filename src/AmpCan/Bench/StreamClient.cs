using AmpCan.Host.Peers;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Vring;

namespace AmpCan.Host.Bench;

/// <summary>
/// Driver side of the vring throughput benchmark: keeps the ring full of readable buffers and recycles them as they
/// come back; its <see cref="Digest"/> of what it sent is compared with the device's of what it received.
/// </summary>
internal sealed class StreamClient : INotificationHandler
{
    private readonly SplitVirtqueueDriver _queue;
    private readonly Doorbell _bell;
    private readonly IoRegion _io;
    private readonly CaseFaults _faults;
    private readonly SequencedPayloads _payloads;
    private readonly int[] _freeSlots = new int[VringTestbed.QueueSize];
    private readonly ManualResetEventSlim _done = new();
    private int _freeCount;
    private long _target, _issued, _completed;
    private ulong _seq;
    private StreamDigest _digest;
    private volatile bool _running;

    public StreamClient(SplitVirtqueueDriver queue, Doorbell bell, VringTestbed bed, int payload)
    {
        _queue = queue;
        _bell = bell;
        _io = bed.Io;
        _faults = bed.Faults;
        _payloads = new SequencedPayloads(payload);
        for (int i = 0; i < _freeSlots.Length; i++) _freeSlots[_freeCount++] = i;
    }

    /// <summary>What every run so far sent (read between runs).</summary>
    public StreamDigest Digest => _digest;

    public void Run(NotificationLoop loop, long n)
    {
        _done.Reset();
        _issued = _completed = 0;
        _target = n;
        _running = true;
        loop.Wake();
        _faults.Wait(_done, TimeSpan.FromMinutes(5), () => $"stream stalled after {_completed} of {n}");
    }

    public bool Process()
    {
        if (!_running) return false;
        int got = 0;
        while (_queue.TryGetUsed(out UsedBuffer u))
        {
            _freeSlots[_freeCount++] = u.Token;
            got++;
        }
        _completed += got;
        if (_completed >= _target)
        {
            _running = false;
            _done.Set();
            return true;
        }
        int added = 0;
        StreamDigest digest = _digest;
        while (_freeCount > 0 && _issued < _target)
        {
            int slot = _freeSlots[--_freeCount];
            ulong off = VringTestbed.ReadPool + (ulong)slot * VringTestbed.Slot;
            _seq++;
            _payloads.Fill(_io.GetSpan(off, _payloads.Length), _seq);
            digest = digest.Add(_payloads.Checksum(_seq), _payloads.Length);
            _queue.TryAdd(new VirtqBuffer(VringTestbed.DeviceBase + off, (uint)_payloads.Length), false, slot);
            _issued++;
            added++;
        }
        _digest = digest;
        if (added > 0 && _queue.KickPrepare()) _bell.Ring();
        return got > 0 || added > 0;
    }

    public bool ArmNotifications() => _queue.EnableCallbacks();
    public void DisarmNotifications() => _queue.DisableCallbacks();
}

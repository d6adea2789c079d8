using System.Diagnostics;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Vring;

namespace AmpCan.Host.Bench;

/// <summary>
/// Driver side of the vring round-trip benchmark: one request in flight, timed from add to collect. Each reply is
/// compared with its whole request once its time is taken.
/// </summary>
internal sealed class PingClient : INotificationHandler
{
    private readonly SplitVirtqueueDriver _queue;
    private readonly Doorbell _bell;
    private readonly IoRegion _io;
    private readonly CaseFaults _faults;
    private readonly SequencedPayloads _payloads;
    private readonly VirtqBuffer[] _readable, _writable;
    private readonly ManualResetEventSlim _done = new();
    private long[] _samples = [];
    private int _count;
    private long _sentAt;
    private ulong _seq;
    private volatile bool _startRequested;

    public PingClient(SplitVirtqueueDriver queue, Doorbell bell, VringTestbed bed, int payload)
    {
        _queue = queue;
        _bell = bell;
        _io = bed.Io;
        _faults = bed.Faults;
        _payloads = new SequencedPayloads(payload);
        _readable = [new VirtqBuffer(VringTestbed.DeviceBase + VringTestbed.ReadPool, (uint)payload)];
        _writable = [new VirtqBuffer(VringTestbed.DeviceBase + VringTestbed.WritePool, (uint)payload)];
    }

    /// <summary>Replies that were not exactly their request, over every run.</summary>
    public int Errors;

    /// <summary>Round trips completed, over every run.</summary>
    public long Completed;

    /// <summary>Measures <paramref name="n"/> round trips on the loop's thread and returns their durations in ticks.</summary>
    public long[] Run(NotificationLoop loop, int n)
    {
        _samples = new long[n];
        _count = 0;
        _done.Reset();
        _startRequested = true;
        loop.Wake();
        _faults.Wait(_done, TimeSpan.FromMinutes(5), () => $"round trips stalled after {_count} of {n}");
        return _samples;
    }

    private void Send()
    {
        _seq++;
        _sentAt = Stopwatch.GetTimestamp();
        // A producer fills the whole payload, as an rpmsg sender does; no two consecutive payloads are alike.
        _payloads.Fill(_io.GetSpan(VringTestbed.ReadPool, _payloads.Length), _seq);
        _queue.TryAdd(_readable, _writable, 0);
        if (_queue.KickPrepare()) _bell.Ring();
    }

    public bool Process()
    {
        if (_startRequested)
        {
            _startRequested = false;
            Send();
            return true;
        }
        if (!_queue.TryGetUsed(out UsedBuffer used)) return false;
        long dt = Stopwatch.GetTimestamp() - _sentAt;
        if (used.Length != _payloads.Length || !_payloads.Matches(_io.GetSpan(VringTestbed.WritePool, _payloads.Length), _seq)) Errors++;
        Completed++;
        _samples[_count++] = dt;
        if (_count == _samples.Length) _done.Set();
        else Send();
        return true;
    }

    public bool ArmNotifications() => _queue.EnableCallbacks();
    public void DisarmNotifications() => _queue.DisableCallbacks();
}

using AmpCan.SharedMem.Doorbells;

namespace AmpCan.Host.Bench;

/// <summary>
/// Reads <see cref="GC.GetAllocatedBytesForCurrentThread"/> on a <see cref="NotificationLoop"/>'s own thread, so that a
/// benchmark counts what the hot path allocates and not what the runtime allocates elsewhere in the process meanwhile.
/// </summary>
/// <remarks>Added to a loop only for an allocation window (it costs one call per pass of a spinning loop).</remarks>
internal sealed class LoopAllocationProbe : INotificationHandler
{
    private readonly NotificationLoop _loop;
    private readonly ManualResetEventSlim _answered = new();
    private volatile bool _requested;
    private long _bytes;

    private LoopAllocationProbe(NotificationLoop loop) => _loop = loop;

    /// <summary>Bytes allocated on the threads of <paramref name="loops"/> while <paramref name="run"/> ran; the loops must be quiet before and after it.</summary>
    public static long AllocatedDuring(IReadOnlyList<NotificationLoop> loops, Action run)
    {
        var probes = loops.Select(l => new LoopAllocationProbe(l)).ToList();
        foreach (LoopAllocationProbe p in probes) p._loop.Add(p);
        try
        {
            long before = probes.Sum(p => p.Read());
            run();
            return probes.Sum(p => p.Read()) - before;
        }
        finally
        {
            foreach (LoopAllocationProbe p in probes) p._loop.Remove(p);
        }
    }

    private long Read()
    {
        _answered.Reset();
        _requested = true;
        _loop.Wake();
        if (!_answered.Wait(TimeSpan.FromSeconds(30))) throw new TimeoutException($"loop {_loop.Name} did not answer the allocation probe");
        return Volatile.Read(ref _bytes);
    }

    public bool Process()
    {
        if (!_requested) return false;
        _requested = false;
        Volatile.Write(ref _bytes, GC.GetAllocatedBytesForCurrentThread());
        _answered.Set();
        return false;
    }

    public bool ArmNotifications() => _requested;

    public void DisarmNotifications() { }
}

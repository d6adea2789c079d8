using AmpCan.SharedMem.Doorbells;

namespace AmpCan.Tests.VirtioCan;

/// <summary>
/// Reads how many bytes a loop's own thread has allocated, on that thread (the only place .NET counts them per thread):
/// a handler on the loop that answers a request with <see cref="GC.GetAllocatedBytesForCurrentThread"/>.
/// </summary>
internal sealed class LoopAllocationProbe : INotificationHandler
{
    private readonly NotificationLoop _loop;
    private int _asked;
    private long _value;

    public LoopAllocationProbe(NotificationLoop loop)
    {
        _loop = loop;
        loop.Add(this);
    }

    /// <summary>Bytes the loop's thread has allocated so far (asks the loop and waits for its answer).</summary>
    public long Sample()
    {
        Volatile.Write(ref _asked, 1);
        _loop.Wake();
        long deadline = Environment.TickCount64 + (long)CanVdevPair.Patience.TotalMilliseconds;
        while (Volatile.Read(ref _asked) != 0)
        {
            if (Environment.TickCount64 > deadline) throw new AssertionException($"loop {_loop.Name} did not answer the allocation probe");
            Thread.Yield();
        }
        return Volatile.Read(ref _value);
    }

    public bool Process()
    {
        if (Volatile.Read(ref _asked) == 0) return false;
        Volatile.Write(ref _value, GC.GetAllocatedBytesForCurrentThread());
        Volatile.Write(ref _asked, 0);
        return true;
    }

    public bool ArmNotifications() => Volatile.Read(ref _asked) != 0;

    public void DisarmNotifications() { }
}

using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;

namespace AmpCan.Tests.SharedMem;

/// <summary>Doorbells that come and go while a loop runs (a vhost-user front end replaces a queue's kick fd), and handlers removed mid-pass.</summary>
public class NotificationLoopWatchTests
{
    private sealed class Handler(Func<bool> work) : INotificationHandler
    {
        public bool Process() => work();
        public bool ArmNotifications() => false;
        public void DisarmNotifications() { }
    }

    [Test]
    public void AHandlerWokenByEitherOfItsDoorbells()
    {
        var (a, peerA) = EventFdDoorbell.CreatePair();
        var (b, peerB) = EventFdDoorbell.CreatePair();
        int pending = 0;
        using var woken = new SemaphoreSlim(0);
        using var loop = new NotificationLoop("two-bells", NotificationMode.Doorbell);
        loop.Add(new Handler(() =>
        {
            if (Interlocked.Exchange(ref pending, 0) == 0) return false;
            woken.Release();
            return true;
        }), [a, b]);
        loop.Start();
        foreach (Doorbell peer in new Doorbell[] { peerA, peerB, peerA, peerB })
        {
            Volatile.Write(ref pending, 1);
            peer.Ring();
            Assert.That(woken.Wait(TimeSpan.FromSeconds(10)), Is.True, $"a ring on {peer} must wake the loop");
        }
        loop.Dispose();
        foreach (var d in new[] { a, peerA, b, peerB }) d.Dispose();
    }

    [Test]
    public void AnUnwatchedDoorbellIsOutOfTheEpollSetAndCanBeWatchedAgain()
    {
        var (ours, theirs) = EventFdDoorbell.CreatePair();
        int pending = 0;
        using var woken = new SemaphoreSlim(0);
        var h = new Handler(() =>
        {
            if (Interlocked.Exchange(ref pending, 0) == 0) return false;
            woken.Release();
            return true;
        });
        using var loop = new NotificationLoop("unwatch", NotificationMode.Doorbell);
        loop.Add(h, ours);
        loop.Start();
        loop.Unwatch(ours);
        // Still in the kernel's set, the descriptor could not be added again (EEXIST); out of it, it can.
        loop.Add(new Handler(() => false), ours);
        Volatile.Write(ref pending, 1);
        theirs.Ring();
        Assert.That(woken.Wait(TimeSpan.FromSeconds(10)), Is.True, "watched again, the doorbell wakes the loop");
        loop.Dispose();
        ours.Dispose();
        theirs.Dispose();
    }

    [Test]
    public void RemoveAndWaitReturnsOnlyAfterThePassRunningTheHandlerEnded()
    {
        using var inside = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        int calls = 0, busy = 0;
        var h = new Handler(() =>
        {
            Interlocked.Increment(ref calls);
            Volatile.Write(ref busy, 1);
            inside.Set();
            release.Wait(TimeSpan.FromSeconds(30));
            Volatile.Write(ref busy, 0);
            return false;
        });
        using var loop = new NotificationLoop("quiesce", NotificationMode.Polling);
        loop.Add(h);
        loop.Start();
        Assert.That(inside.Wait(TimeSpan.FromSeconds(10)), Is.True);
        Task removing = Task.Run(() => loop.RemoveAndWait(h));
        Assert.That(removing.Wait(TimeSpan.FromMilliseconds(200)), Is.False, "must not return while the handler runs");
        release.Set();
        Assert.That(removing.Wait(TimeSpan.FromSeconds(10)), Is.True);
        Assert.That(Volatile.Read(ref busy), Is.Zero, "returned while the handler was still running");
        int after = Volatile.Read(ref calls);
        loop.Wake();
        loop.Stop();
        Assert.That(Volatile.Read(ref calls), Is.EqualTo(after), "a removed handler is not run again");
    }

    [Test]
    public void CpuTimeIsTheLoopThreadsAndGrowsWhileItSpins()
    {
        using var loop = new NotificationLoop("cpu", NotificationMode.Polling);
        Assert.That(loop.CpuTime, Is.Null, "no thread before it runs");
        loop.Start();
        var spun = TimeSpan.FromMilliseconds(50);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        TimeSpan? used = null;
        while (clock.Elapsed < TimeSpan.FromSeconds(20) && !((used = loop.CpuTime) >= spun)) Thread.Yield();
        Assert.That(used, Is.GreaterThanOrEqualTo(spun), "a polling loop uses its thread's CPU all the time");
        TimeSpan mine = ThreadCpuTime.Of(ThreadCpuTime.CurrentThreadId()) ?? TimeSpan.Zero;
        Assert.That(ThreadCpuTime.CurrentThreadId(), Is.Not.EqualTo(-1));
        loop.Stop();
        Assert.That(mine, Is.Not.EqualTo(used), "the loop's clock is its own thread's, not the caller's");
    }
}

using System.Diagnostics;
using AmpCan.SharedMem.Doorbells;

namespace AmpCan.Tests.SharedMem;

/// <summary>How an adaptive loop decides to spin: a budget learned from traffic, an allowance of spinning threads, pollers first.</summary>
public class AdaptiveSpinTests
{
    private sealed class Counting : INotificationHandler
    {
        public int Pending;
        public long Processed;
        public volatile bool PolledElsewhere;
        public bool Process()
        {
            if (Interlocked.Exchange(ref Pending, 0) == 0) return false;
            Interlocked.Increment(ref Processed);
            return true;
        }
        public bool ArmNotifications() => Volatile.Read(ref Pending) != 0;
        public void DisarmNotifications() { }
        public bool IsPolledElsewhere => PolledElsewhere;
    }

    private static void WaitFor(Func<bool> condition, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(10)) Assert.Fail($"timed out waiting for {what}");
            Thread.Yield();
        }
    }

    // Long enough that a busy CI machine's scheduling delay still counts as "soon after parking".
    private static readonly TimeSpan Budget = TimeSpan.FromMilliseconds(20);

    [Test]
    public void SparseTrafficShrinksTheSpinAndQuickTrafficGrowsItBack()
    {
        var (ours, theirs) = EventFdDoorbell.CreatePair();
        var h = new Counting();
        using var loop = new NotificationLoop("learn", NotificationMode.Adaptive, Budget, allowance: new SpinAllowance(4));
        loop.Add(h, ours);
        loop.Start();
        TimeSpan full = loop.SpinBudget;
        for (int i = 1; i <= 6; i++)
        {
            WaitFor(() => loop.Parks >= i, "the loop to park");
            Thread.Sleep(Budget * 5); // a gap far longer than the budget: the traffic this test is about, not synchronisation
            Interlocked.Exchange(ref h.Pending, 1);
            theirs.Ring();
            WaitFor(() => Interlocked.Read(ref h.Processed) >= i, "the work");
        }
        TimeSpan shrunk = loop.SpinBudget;
        Assert.That(shrunk, Is.LessThan(full / 4), "after long sleeps spinning is not worth it");
        // Now work arrives right after each park: the spin should have lasted longer.
        for (int i = 0; i < 20 && loop.SpinBudget < full; i++)
        {
            long p = loop.Parks;
            Interlocked.Exchange(ref h.Pending, 1);
            theirs.Ring();
            WaitFor(() => loop.Parks > p, "the loop to do the work and park again");
        }
        Assert.That(loop.SpinBudget, Is.EqualTo(full), "wake-ups right after parking grow the spin back to its budget");
        loop.Stop();
        ours.Dispose();
        theirs.Dispose();
    }

    [Test]
    public void NoMoreLoopsSpinThanTheAllowanceAllows()
    {
        var allowance = new SpinAllowance(1);
        var loops = Enumerable.Range(0, 3).Select(i => new NotificationLoop($"s{i}", NotificationMode.Adaptive, TimeSpan.FromSeconds(30), allowance: allowance)).ToList();
        var bells = loops.Select(_ => EventFdDoorbell.CreatePair()).ToList();
        for (int i = 0; i < loops.Count; i++)
        {
            loops[i].Add(new Counting(), bells[i].First);
            loops[i].Start();
        }
        // With a 30 s budget each would spin for 30 s; two of three must park at once instead.
        WaitFor(() => loops.Count(l => l.Parks > 0) >= 2, "two loops to park");
        int maxSpinning = 0;
        for (int i = 0; i < 1000; i++) maxSpinning = Math.Max(maxSpinning, allowance.SpinningLoops);
        Assert.That(maxSpinning, Is.LessThanOrEqualTo(1));
        Assert.That(loops.Count(l => l.Parks == 0), Is.EqualTo(1), "one loop keeps the allowance and spins");
        foreach (var l in loops) l.Dispose();
        foreach (var (a, b) in bells) { a.Dispose(); b.Dispose(); }
    }

    [Test]
    public void AThreadPollingForAReplyPushesASpinningLoopToPark()
    {
        var allowance = new SpinAllowance(1);
        var (ours, theirs) = EventFdDoorbell.CreatePair();
        using var loop = new NotificationLoop("pushed", NotificationMode.Adaptive, TimeSpan.FromSeconds(30), allowance: allowance);
        loop.Add(new Counting(), ours);
        loop.Start();
        WaitFor(() => allowance.SpinningLoops == 1, "the loop to spin");
        Assert.That(loop.Parks, Is.Zero);
        allowance.EnterPoller();
        WaitFor(() => loop.Parks == 1, "the loop to park for the poller");
        Assert.That(allowance.SpinningLoops, Is.Zero);
        allowance.ExitPoller();
        loop.Stop();
        ours.Dispose();
        theirs.Dispose();
    }

    [Test]
    public void ALoopDoesNotSpinForWorkAnotherThreadPolls()
    {
        var (ours, theirs) = EventFdDoorbell.CreatePair();
        var h = new Counting { PolledElsewhere = true };
        using var loop = new NotificationLoop("polled", NotificationMode.Adaptive, TimeSpan.FromSeconds(30), allowance: new SpinAllowance(4));
        loop.Add(h, ours);
        loop.Start();
        WaitFor(() => loop.Parks == 1, "the loop to park at once: its work is polled elsewhere");
        h.PolledElsewhere = false;
        Interlocked.Exchange(ref h.Pending, 1);
        theirs.Ring();
        WaitFor(() => Interlocked.Read(ref h.Processed) == 1, "the work");
        Thread.Sleep(50); // long enough to park again if it were still skipping the spin
        Assert.That(loop.Parks, Is.EqualTo(1), "its own work again, it spins within its 30 s budget instead of parking");
        loop.Stop();
        ours.Dispose();
        theirs.Dispose();
    }
}

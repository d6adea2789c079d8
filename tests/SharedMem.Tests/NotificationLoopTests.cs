using AmpCan.SharedMem.Doorbells;

namespace AmpCan.Tests.SharedMem;

public class NotificationLoopTests
{
    private sealed class CountingHandler(Func<bool> work) : INotificationHandler
    {
        public int Armed, Disarmed;
        public readonly ManualResetEventSlim Done = new();
        public bool Process() => work();
        public bool ArmNotifications() { Interlocked.Increment(ref Armed); return false; }
        public void DisarmNotifications() => Interlocked.Increment(ref Disarmed);
    }

    [TestCase(NotificationMode.Doorbell)]
    [TestCase(NotificationMode.Adaptive)]
    [TestCase(NotificationMode.Polling)]
    public void WorkSignalledThroughADoorbellIsProcessed(NotificationMode mode)
    {
        var (ours, theirs) = EventFdDoorbell.CreatePair();
        int pending = 0, processed = 0;
        CountingHandler h = null!;
        h = new CountingHandler(() =>
        {
            if (Interlocked.Exchange(ref pending, 0) == 0) return false;
            if (Interlocked.Increment(ref processed) == 100) h.Done.Set();
            return true;
        });
        using var loop = new NotificationLoop("test", mode, TimeSpan.FromMicroseconds(10));
        loop.Add(h, ours);
        loop.Start();
        for (int i = 0; i < 100; i++)
        {
            while (Volatile.Read(ref processed) != i) Thread.Yield(); // one item at a time
            Interlocked.Exchange(ref pending, 1);
            theirs.Ring();
        }
        Assert.That(h.Done.Wait(TimeSpan.FromSeconds(20)), Is.True, "all 100 notifications must be processed");
        loop.Stop();
        if (mode == NotificationMode.Polling) Assert.That(loop.Parks, Is.Zero, "a polling loop never parks");
        if (mode == NotificationMode.Doorbell)
        {
            Assert.That(loop.Parks, Is.GreaterThan(0));
            Assert.That(h.Armed, Is.GreaterThanOrEqualTo(loop.Parks), "a doorbell loop arms notifications before every park");
            // The eventfd is watched edge-triggered: the loop never reads the counter, and an unread counter must not
            // keep waking it (level-triggered, it would return from epoll_wait at once, forever).
            Assert.That(ours.Acknowledge(), Is.True, "the loop left the eventfd counter unread");
            Assert.That(loop.Parks, Is.LessThanOrEqualTo(2 * 100 + 2), "one or two parks per notification, not a spin through epoll");
        }
        // An adaptive loop may never park while work keeps coming within its spin budget; AdaptiveLoopParksWhenIdle covers it.
        ours.Dispose();
        theirs.Dispose();
    }

    [Test]
    public void AHandlerThatThrowsIsRemovedAndTheOthersKeepRunning()
    {
        var (ours, theirs) = EventFdDoorbell.CreatePair();
        int good = 0;
        var bad = new CountingHandler(() => throw new InvalidDataException("hostile remote"));
        var ok = new CountingHandler(() => Interlocked.Exchange(ref good, 0) == 1);
        using var faulted = new ManualResetEventSlim();
        Exception? seen = null;
        using var loop = new NotificationLoop("test", NotificationMode.Doorbell);
        loop.HandlerFaulted += (h, e) => { if (h == bad) { seen = e; faulted.Set(); } };
        loop.Add(bad, ours);
        loop.Add(ok, ours);
        loop.Start();
        Assert.That(faulted.Wait(TimeSpan.FromSeconds(10)), Is.True);
        Assert.That(seen, Is.TypeOf<InvalidDataException>());
        Volatile.Write(ref good, 1);
        theirs.Ring();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (Volatile.Read(ref good) != 0 && sw.Elapsed < TimeSpan.FromSeconds(10)) Thread.Yield();
        Assert.That(Volatile.Read(ref good), Is.Zero, "the healthy handler still runs");
        loop.Stop();
        ours.Dispose();
        theirs.Dispose();
    }

    [Test]
    public void AdaptiveLoopSpinsThenParksAndDisarmsAfterWaking()
    {
        var (ours, theirs) = EventFdDoorbell.CreatePair();
        int passes = 0;
        var h = new CountingHandler(() =>
        {
            Interlocked.Increment(ref passes);
            return false;
        });
        using (var loop = new NotificationLoop("test", NotificationMode.Adaptive, TimeSpan.FromMicroseconds(200)))
        {
            loop.Add(h, ours);
            loop.Start();
            var sw = System.Diagnostics.Stopwatch.StartNew();
            while (loop.Parks == 0 && sw.Elapsed < TimeSpan.FromSeconds(10)) Thread.Yield();
            Assert.That(loop.Parks, Is.EqualTo(1), "an idle adaptive loop parks, once, and stays parked");
            Assert.That(Volatile.Read(ref h.Armed), Is.GreaterThan(0), "it armed notifications before parking");
            int disarmedWhileParked = Volatile.Read(ref h.Disarmed);
            int passesWhileParked = Volatile.Read(ref passes);

            theirs.Ring();
            while (Volatile.Read(ref h.Disarmed) == disarmedWhileParked && sw.Elapsed < TimeSpan.FromSeconds(10)) Thread.Yield();
            Assert.That(Volatile.Read(ref h.Disarmed), Is.GreaterThan(disarmedWhileParked), "woken, it disarms notifications to spin");
            while (loop.Parks < 2 && sw.Elapsed < TimeSpan.FromSeconds(10)) Thread.Yield();
            Assert.That(loop.Parks, Is.EqualTo(2), "the spin is bounded: idle again, it parks again");
            Assert.That(Volatile.Read(ref passes) - passesWhileParked, Is.GreaterThan(1), "between the two parks it spun over the handler more than once");
            loop.Stop();
        }
        ours.Dispose();
        theirs.Dispose();
    }
}

using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Lifecycle;
using AmpCan.SharedMem;
using AmpCan.Vring;
using Microsoft.Extensions.Time.Testing;

namespace AmpCan.Tests.Remoteproc.Lifecycle;

/// <summary>
/// Crash detection over real mapped memory, with a clock the test moves: a vdev status of DEVICE_NEEDS_RESET or
/// FAILED, a heartbeat word that stops changing for a watchdog period, a ring whose pending buffers stop being used,
/// and crashes reported from elsewhere; the first seen wins.
/// </summary>
public class CoreCrashWatchTests
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(100);

    private static void Advance(FakeTimeProvider clock, int ticks)
    {
        for (int i = 0; i < ticks; i++) clock.Advance(Tick);
    }

    [Test]
    public void AVdevStatusOfNeedsResetOrFailedIsACrash()
    {
        using MappedRegion shm = MappedRegion.CreateMemfd("crash-watch", 0x1000);
        shm.Io.Write(0, new ResourceTableBuilder()
            .Vdev(7, 0, 1, [new VringSpec(0x4000, 16, 16, 1), new VringSpec(0x5000, 16, 16, 2)])
            .Vdev(36, 3, 1, [new VringSpec(0x6000, 16, 16, 4), new VringSpec(0x7000, 16, 16, 5), new VringSpec(0x8000, 16, 16, 6)], new byte[2]).Build());
        ResourceTable table = ResourceTable.Parse(shm.Io);
        var clock = new FakeTimeProvider();
        using var watch = new CoreCrashWatch([new VdevStatusCheck(table)], Tick, clock);
        table.Vdevs[0].Status = VirtioStatus.Acknowledge | VirtioStatus.Driver | VirtioStatus.FeaturesOk | VirtioStatus.DriverOk;
        Advance(clock, 3);
        Assert.That(watch.Crashed.IsCompleted, Is.False, "a live status is no crash");
        table.Vdevs[1].Status = VirtioStatus.Acknowledge | VirtioStatus.DeviceNeedsReset;
        Advance(clock, 1);
        Assert.That(watch.Crashed.IsCompleted, Is.True, "seen at the next tick");
        Assert.That(watch.Crashed.Result, Is.EqualTo("vdev 1 (virtio id 36) status 0x41: DEVICE_NEEDS_RESET"));

        table.Vdevs[1].Status = VirtioStatus.Failed;
        Assert.That(new VdevStatusCheck(table).Check(Tick), Is.EqualTo("vdev 1 (virtio id 36) status 0x80: FAILED"));
    }

    [Test]
    public void AHeartbeatThatStopsForAWholePeriodIsACrash()
    {
        using MappedRegion shm = MappedRegion.CreateMemfd("heartbeat", 0x1000, 0x3000_0000);
        IoRegion word = shm.Io.Slice(0x40, 4);
        var clock = new FakeTimeProvider();
        using var watch = new CoreCrashWatch([new HeartbeatCheck(word, TimeSpan.FromMilliseconds(500))], Tick, clock);
        for (uint beat = 1; beat <= 20; beat++)
        {
            if (beat % 4 == 0) word.WriteU32Release(0, beat); // every 400 ms: within the period
            clock.Advance(Tick);
        }
        Assert.That(watch.Crashed.IsCompleted, Is.False, "a heart beating within the period");
        Advance(clock, 4);
        Assert.That(watch.Crashed.IsCompleted, Is.False, "400 ms still: not yet");
        Advance(clock, 1);
        Assert.That(watch.Crashed.Result, Does.StartWith("watchdog: the heartbeat at 0x30000040 has not changed for 500 ms"));
    }

    [Test]
    public void PendingBuffersNobodyUsesForAPeriodAreAStallAndAnIdleRingIsNot()
    {
        const int size = 16;
        VringLayout layout = VringLayout.Legacy(size, 16);
        using MappedRegion shm = MappedRegion.CreateMemfd("stall", 0x1000);
        IoRegion ring = shm.Io.Slice(0, layout.TotalSize);
        var check = new RingStallCheck("rpmsg tx", ring, size, 16, TimeSpan.FromMilliseconds(300));
        for (int i = 0; i < 10; i++) Assert.That(check.Check(Tick), Is.Null, "nothing pending: an idle ring, however long");

        ring.WriteU16Release(layout.AvailOffset + 2, 3); // three made available
        Assert.That((check.Check(Tick), check.Check(Tick)), Is.EqualTo(((string?)null, (string?)null)));
        ring.WriteU16Release(layout.UsedOffset + 2, 1); // the remote used one: it lives, and the count starts again
        Assert.That((check.Check(Tick), check.Check(Tick), check.Check(Tick)), Is.EqualTo(((string?)null, (string?)null, (string?)null)));
        Assert.That(check.Check(Tick), Is.EqualTo("rpmsg tx: 2 buffers pending and none used for 300 ms"));

        Assert.That(() => new RingStallCheck("small", shm.Io.Slice(0, 0x100), size, 16, Tick), Throws.ArgumentException.With.Message.Contains("do not fit"));
    }

    [Test]
    public void AReportedCrashWinsOnceAndStopsTheTicks()
    {
        int asked = 0;
        var clock = new FakeTimeProvider();
        using var watch = new CoreCrashWatch([new CountingCheck(() => asked++)], Tick, clock);
        Advance(clock, 2);
        watch.Report("the remote process exited (code 134)");
        watch.Report("something later");
        Advance(clock, 5);
        Assert.That((watch.Crashed.Result, asked), Is.EqualTo(("the remote process exited (code 134)", 2)));
    }

    [Test]
    public void ACheckThatThrowsIsACrashNotAFaultOnTheTimer()
    {
        var clock = new FakeTimeProvider();
        using var watch = new CoreCrashWatch([new CountingCheck(() => throw new SharedMemoryBoundsException("test: a window moved"))], Tick, clock);
        clock.Advance(Tick);
        Assert.That(watch.Crashed.Result, Is.EqualTo("a health check failed: test: a window moved"));
    }

    [Test]
    public void ALateTickCountsAsTwoNotAsTheWholeTimeThisProcessCouldNotLook()
    {
        using MappedRegion shm = MappedRegion.CreateMemfd("late-tick", 0x1000);
        var clock = new FakeTimeProvider();
        using var watch = new CoreCrashWatch([new HeartbeatCheck(shm.Io.Slice(0, 4), TimeSpan.FromMilliseconds(500))], Tick, clock);
        clock.Advance(Tick);
        clock.AdjustTime(clock.GetUtcNow() + TimeSpan.FromSeconds(10)); // frozen for 10 s: no timer ran meanwhile
        clock.Advance(Tick);
        Assert.That(watch.Crashed.IsCompleted, Is.False, "one late tick is not a 10 s silence");
        Advance(clock, 3);
        Assert.That(watch.Crashed.IsCompleted, Is.True, "ticks that keep coming still find the stopped heart");
    }

    private sealed class CountingCheck(Action asked) : ICoreHealthCheck
    {
        public string? Check(TimeSpan sinceLast)
        {
            asked();
            return null;
        }
    }
}

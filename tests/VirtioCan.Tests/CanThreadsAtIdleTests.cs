using System.Globalization;
using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;

namespace AmpCan.Tests.VirtioCan;

/// <summary>
/// The threads of a paced bus, a bridge and a candump log sleep when there is nothing to do: after traffic has passed,
/// none of them runs over an idle stretch (schedstat's count of times on a CPU, and its CPU time), where a polling loop
/// would run hundreds of times and a spinning one use most of the stretch.
/// </summary>
public class CanThreadsAtIdleTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    // The kernel's ids of this process's threads whose name (comm, 15 characters at most) is the given one.
    private static int[] ThreadsNamed(string name) =>
        Directory.GetDirectories("/proc/self/task")
            .Where(d => File.Exists(Path.Combine(d, "comm")) && File.ReadAllText(Path.Combine(d, "comm")).TrimEnd('\n') == name)
            .Select(d => int.Parse(Path.GetFileName(d), CultureInfo.InvariantCulture))
            .ToArray();

    // /proc/self/task/TID/schedstat: time on a CPU (ns), time waiting for one (ns), times it ran.
    private static (long Nanoseconds, long Runs) SchedStat(int threadId)
    {
        string[] fields = File.ReadAllText($"/proc/self/task/{threadId}/schedstat").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return (long.Parse(fields[0], CultureInfo.InvariantCulture), long.Parse(fields[2], CultureInfo.InvariantCulture));
    }

    [Test]
    public void APacedBusABridgeAndALogSleepWhenIdle()
    {
        if (!Directory.Exists("/proc/self/task")) Assert.Ignore("no /proc/self/task here: thread CPU time cannot be read");
        using var paced = new VirtualCanBus("idle1", bitrate: 1_000_000);
        using var plain = new VirtualCanBus("idle2");
        using VirtualCanPort x = paced.Attach("x"), y = plain.Attach("y");
        using var log = new CandumpLog(TextWriter.Null, flushInterval: TimeSpan.FromMilliseconds(10));
        log.Follow(plain.Attach("idlelog"));
        using var bridge = new CanPortBridge(paced.Attach("ia"), plain.Attach("ib"));
        using var atY = new PortReader(y);
        x.Send(new CanFrame { Id = 1, Length = 1 });
        atY.TakeUntil(1, Patience); // through the pacer and the bridge; the log has seen it too

        int[] threads = [.. ThreadsNamed("can pacer idle1"), .. ThreadsNamed("can bridge ia-i"), .. ThreadsNamed("candump log")];
        Assert.That(threads, Has.Length.GreaterThanOrEqualTo(3), "the three threads, found by name");
        (long Nanoseconds, long Runs)[] before = threads.Select(SchedStat).ToArray();
        Thread.Sleep(300); // the idle stretch observed, not a wait for anything
        (long Nanoseconds, long Runs)[] after = threads.Select(SchedStat).ToArray();
        for (int i = 0; i < threads.Length; i++)
        {
            string which = $"thread {threads[i]} ({File.ReadAllText($"/proc/self/task/{threads[i]}/comm").Trim()}) while idle";
            Assert.That(after[i].Runs - before[i].Runs, Is.LessThanOrEqualTo(2), which + ": times it ran");
            Assert.That(TimeSpan.FromTicks((after[i].Nanoseconds - before[i].Nanoseconds) / 100), Is.LessThan(TimeSpan.FromMilliseconds(20)), which + ": CPU time");
        }
    }
}

using System.Collections.Concurrent;
using System.Diagnostics;
using AmpCan.Host.Boards;
using AmpCan.Host.Service;
using AmpCan.Remoteproc.Boards;
using AmpCan.Remoteproc.Lifecycle;
using AmpCan.Rpmsg;
using AmpCan.Simulation;

namespace AmpCan.Host.Bench;

/// <summary>
/// <c>ampcan bench recovery</c>: how long the sim board's remote is away when it crashes. Each cycle crashes the
/// remote and times, from the crash being seen (the lifecycle's Crashed state) to the echo channel being announced
/// again on the new session's bus and answering ("channels back"); the detection time beside it (crash injected →
/// seen) depends on how the crash shows. The floor is the first boot in the same run (start → channels back). Every
/// crash counts as the first in a row, so what is timed is recovery itself, not the crash-loop back-off.
/// </summary>
public sealed class RecoveryBench(BenchSettings settings, TextWriter log, string boardPath)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    /// <summary>Runs every case and returns the figures.</summary>
    public BenchReport Run()
    {
        var report = new BenchReport();
        int cycles = settings.DoorbellRoundTrips >= 10_000 ? 20 : 3;
        BoardDescriptor board = BoardDescriptor.Load(boardPath);
        foreach (var (key, remote, what) in new[]
        {
            ("in_process", RemoteKind.Simulated, "simulated remote on a thread; its fatal handler marks its rpmsg device DEVICE_NEEDS_RESET"),
            ("process", RemoteKind.SimulatedProcess, "simulated remote in its own process, killed"),
        })
        {
            if (!settings.Runs($"recovery.{key}")) continue;
            log.WriteLine($"# recovery.{key}: {cycles} crashes ...");
            Case c = Measure(board, remote, cycles);
            string section = $"crash and recovery, sim board ({what}), {cycles} crashes";
            report.Add(section, $"recovery.{key}.first_boot_ms", c.FirstBootMs, $"{c.FirstBootMs:F1} ms start → echo channel answering (the floor)");
            report.Add(section, $"recovery.{key}.detect_ms.median", Median(c.DetectMs), $"{Median(c.DetectMs):F1} ms crash → seen (median; max {c.DetectMs.Max():F1})");
            report.Add(section, $"recovery.{key}.channels_back_ms.median", Median(c.BackMs), $"{Median(c.BackMs):F1} ms seen → echo channel answering again (median)");
            report.Add(section, $"recovery.{key}.channels_back_ms.max", c.BackMs.Max(), $"{c.BackMs.Max():F1} ms (max)");
            report.Add("ratios", $"recovery.{key}.channels_back.vs_first_boot", Median(c.BackMs) / c.FirstBootMs, $"{Median(c.BackMs) / c.FirstBootMs:F2}x the first boot");
        }
        return report;
    }

    private sealed record Case(double FirstBootMs, List<double> DetectMs, List<double> BackMs);

    private Case Measure(BoardDescriptor board, RemoteKind remote, int cycles)
    {
        var states = new BlockingCollection<(RemoteCoreState State, long At)>();
        using RemoteCoreLifecycle core = BoardLifecycle.Create(board, new BoardHostOptions
        {
            Remote = remote,
            BoardPath = boardPath,
            AmpcanPath = BoardService.AmpcanExecutable(),
        }, options: new RemoteCoreLifecycleOptions { StableAfter = TimeSpan.FromTicks(1) }); // each crash the first in a row: no crash-loop back-off
        core.StateChanged += s => states.Add((s, Stopwatch.GetTimestamp()));
        long started = Stopwatch.GetTimestamp();
        core.Start();
        Expect(states, RemoteCoreState.Running);
        double first = Stopwatch.GetElapsedTime(started, ChannelsBack(core)).TotalMilliseconds;
        var detect = new List<double>();
        var back = new List<double>();
        for (int i = 0; i < cycles; i++)
        {
            BoardHost host = ((BoardSession)core.Session!).Host;
            long crashed = Stopwatch.GetTimestamp();
            if (host.RemoteProcess is { } process) process.Kill();
            else host.SimulatedRemote!.Crash(SimulatedCrash.Fault);
            long seen = Expect(states, RemoteCoreState.Crashed);
            Expect(states, RemoteCoreState.Running);
            detect.Add(Stopwatch.GetElapsedTime(crashed, seen).TotalMilliseconds);
            back.Add(Stopwatch.GetElapsedTime(seen, ChannelsBack(core)).TotalMilliseconds);
        }
        return new Case(first, detect, back);
    }

    private static long Expect(BlockingCollection<(RemoteCoreState State, long At)> states, RemoteCoreState wanted)
    {
        if (!states.TryTake(out var s, Patience)) throw new BenchmarkFailedException($"the remote did not become {RemoteCoreLifecycle.Name(wanted)} within {Patience}");
        if (s.State != wanted) throw new BenchmarkFailedException($"the remote became {RemoteCoreLifecycle.Name(s.State)}, not {RemoteCoreLifecycle.Name(wanted)}");
        return s.At;
    }

    // When the echo channel is announced on the current session's bus and has answered one message.
    private static long ChannelsBack(RemoteCoreLifecycle core)
    {
        BoardHost host = ((BoardSession)core.Session!).Host;
        var clock = Stopwatch.StartNew();
        RpmsgChannel? echo;
        while ((echo = host.Rpmsg.Channels.FirstOrDefault(c => c.Name == host.Board.Remote.Services.Echo)) is null)
        {
            if (clock.Elapsed > Patience) throw new BenchmarkFailedException("the echo channel did not come back");
            Thread.Yield();
        }
        using RpmsgEndpoint ep = host.Rpmsg.CreateEndpoint("recovery-bench", null, destination: echo.RemoteAddress);
        ep.Send("back?"u8);
        using RpmsgMessage reply = ep.Receive(Patience);
        return Stopwatch.GetTimestamp();
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}

using System.Diagnostics;
using AmpCan.Host.Peers;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Vring;

namespace AmpCan.Host.Bench;

/// <summary>
/// <c>ampcan bench vring</c>: raw floors (cache-line and eventfd ping-pong) and the vring round trip, throughput,
/// allocation and idle CPU figures, measured side by side in one run over a memfd.
/// </summary>
public sealed class VringBench(BenchSettings settings, TextWriter log)
{
    /// <summary>Payload sizes measured: a small control message and a full Linux rpmsg payload.</summary>
    public static readonly int[] Payloads = [16, 496];

    private static readonly NotificationMode[] Modes = [NotificationMode.Polling, NotificationMode.Doorbell, NotificationMode.Adaptive];

    /// <summary>Runs every case and returns the figures.</summary>
    public BenchReport Run()
    {
        var report = new BenchReport();
        LatencyStats cacheLine = Middle(() => CacheLineFloor(settings.SpinRoundTrips));
        report.AddLatency("floor (middle of 3 runs, each on a fresh memfd)", "floor.cacheline_rt", cacheLine);
        LatencyStats eventfd = Middle(() => EventFdFloor(settings.DoorbellRoundTrips));
        report.AddLatency("floor (middle of 3 runs, each on a fresh memfd)", "floor.eventfd_rt", eventfd);

        foreach (int payload in Payloads)
        {
            foreach (NotificationMode mode in Modes)
            {
                string key = $"vring.rt.{Name(mode)}.{payload}";
                if (!settings.Runs(key)) continue;
                log.WriteLine($"# {key} ...");
                int n = mode == NotificationMode.Doorbell ? settings.DoorbellRoundTrips : settings.SpinRoundTrips;
                // The VM's speed shifts in phases lasting seconds; each repetition measures its floor right before its
                // case, and the middle repetition by ratio is reported.
                var runs = Enumerable.Range(0, Repetitions).Select(rep =>
                {
                    LatencyStats f = mode == NotificationMode.Doorbell ? EventFdFloor(n) : CacheLineFloor(n);
                    var r = RoundTrip(mode, payload, n, measureIdle: rep == 0 && mode == NotificationMode.Adaptive && payload == Payloads[0]);
                    return (Floor: f, r.Stats, r.AllocPerBuffer, r.IdleCpuPercent, r.Parks, Ratio: r.Stats.MedianUs / f.MedianUs);
                }).ToList();
                var mid = runs.OrderBy(r => r.Ratio).ElementAt(Repetitions / 2);
                LatencyStats stats = mid.Stats;
                double alloc = runs.Max(r => r.AllocPerBuffer);
                double? idleCpu = runs[0].IdleCpuPercent;
                report.AddLatency("vring round trip (driver fills and adds, device echoes, driver collects; every reply checked whole after its time is taken); middle of 3 runs by ratio", key, stats);
                report.AddLatency("floor measured right before that run", $"{key}.floor", mid.Floor);
                report.Add("allocation (bytes per buffer allocated by the driver and device threads, steady state; worst of 3 runs)", $"{key}.alloc_bytes_per_buffer", alloc, $"{alloc:F3}");
                report.Add("ratios", $"{key}.vs_floor", mid.Ratio, $"{mid.Ratio:F2}x of the {(mode == NotificationMode.Doorbell ? "eventfd" : "cache-line")} floor measured just before it (median; ratios of the 3 runs: {string.Join(", ", runs.Select(r => r.Ratio.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)))})");
                mid.Parks.AddTo(report, key, "driver", "device", "buffer");
                if (idleCpu is double cpu)
                    report.Add("idle", "vring.adaptive.idle_cpu_percent", cpu, $"{cpu:F3} % of one core (both loops parked)");
            }
        }
        foreach (int payload in Payloads)
        {
            foreach (NotificationMode mode in Modes)
            {
                string key = $"vring.stream.{Name(mode)}.{payload}";
                if (!settings.Runs(key)) continue;
                log.WriteLine($"# {key} ...");
                var streams = Enumerable.Range(0, Repetitions).Select(_ => Stream(mode, payload, settings.StreamBuffers)).ToList();
                var middle = streams.OrderBy(x => x.BuffersPerSecond).ElementAt(Repetitions / 2);
                double rate = middle.BuffersPerSecond;
                double alloc = streams.Max(x => x.AllocPerBuffer);
                report.Add("one-way throughput (batches, ring kept full, device copies each payload out and checksums it; middle of 3 runs)", $"{key}.buffers_per_s", rate,
                    $"{rate / 1e6:F2} M buffers/s   {rate * payload / 1e6:F0} MB/s   (runs: {string.Join(", ", streams.Select(x => (x.BuffersPerSecond / 1e6).ToString("F2", System.Globalization.CultureInfo.InvariantCulture)))} M/s)");
                report.Add("allocation (bytes per buffer allocated by the driver and device threads, steady state; worst of 3 runs)", $"{key}.alloc_bytes_per_buffer", alloc, $"{alloc:F3}");
                middle.Parks.AddTo(report, key, "driver", "device", "buffer");
            }
        }
        return report;
    }

    /// <summary>Runs per latency case: each gets a fresh memfd, whose pages may land nearer or farther from both cores.</summary>
    public const int Repetitions = 3;

    private static LatencyStats Middle(Func<LatencyStats> run) =>
        Enumerable.Range(0, Repetitions).Select(_ => run()).OrderBy(x => x.MedianUs).ElementAt(Repetitions / 2);

    internal static string Name(NotificationMode m) => m switch
    {
        NotificationMode.Polling => "busypoll",
        NotificationMode.Doorbell => "eventfd",
        _ => "adaptive",
    };

    /// <summary>Two threads ping-pong one cache line of a memfd: the floor of any shared-memory round trip.</summary>
    public static LatencyStats CacheLineFloor(int n)
    {
        using MappedRegion region = MappedRegion.CreateMemfd("floor-cacheline", 4096);
        IoRegion io = region.Io;
        int warm = Math.Min(n, 20_000);
        var echo = new Thread(() =>
        {
            ThreadAffinity.Pin(1);
            for (uint i = 0; i < warm + n; i++)
            {
                uint want = 2 * i + 1;
                while (io.ReadU32Acquire(0) != want) NotificationLoop.CpuRelax();
                io.WriteU32Release(0, want + 1);
            }
        }) { IsBackground = true };
        echo.Start();
        ThreadAffinity.Pin(0);
        long[] samples = new long[n];
        for (uint i = 0; i < warm + n; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            io.WriteU32Release(0, 2 * i + 1);
            while (io.ReadU32Acquire(0) != 2 * i + 2) NotificationLoop.CpuRelax();
            if (i >= warm) samples[i - warm] = Stopwatch.GetTimestamp() - t0;
        }
        echo.Join();
        ThreadAffinity.Unpin();
        return LatencyStats.From(samples);
    }

    /// <summary>Two threads ping-pong a pair of blocking eventfds: the floor of any doorbell round trip.</summary>
    public static LatencyStats EventFdFloor(int n)
    {
        using var ping = new BlockingEventFd();
        using var pong = new BlockingEventFd();
        int warm = Math.Min(n, 2_000);
        var echo = new Thread(() =>
        {
            ThreadAffinity.Pin(1);
            for (int i = 0; i < warm + n; i++)
            {
                ping.Wait();
                pong.Signal();
            }
        }) { IsBackground = true };
        echo.Start();
        ThreadAffinity.Pin(0);
        long[] samples = new long[n];
        for (int i = 0; i < warm + n; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            ping.Signal();
            pong.Wait();
            if (i >= warm) samples[i - warm] = Stopwatch.GetTimestamp() - t0;
        }
        echo.Join();
        ThreadAffinity.Unpin();
        return LatencyStats.From(samples);
    }

    internal (LatencyStats Stats, double AllocPerBuffer, double? IdleCpuPercent, LoopParks Parks) RoundTrip(NotificationMode mode, int payload, int n, bool measureIdle)
    {
        using var bed = new VringTestbed();
        var device = new SplitVirtqueueDevice(bed.Ring, bed.Memory, eventIndex: true, indirectDescriptors: true);
        var driver = new SplitVirtqueueDriver(bed.Ring, eventIndex: true, clearRing: false);
        var echo = new VringEchoDevice(device, bed.DeviceBell);
        var client = new PingClient(driver, bed.DriverBell, bed, payload);
        if (mode == NotificationMode.Polling)
        {
            device.DisableNotifications();
            driver.DisableCallbacks();
        }
        NotificationLoop deviceLoop = bed.StartLoop("device", mode, echo, bed.DeviceBell, cpu: 1);
        NotificationLoop driverLoop = bed.StartLoop("driver", mode, client, bed.DriverBell, cpu: 0);

        WarmUp(() => client.Run(driverLoop, Math.Max(500, n / 20)));
        var parks = LoopParks.Start(driverLoop, deviceLoop);
        long[] samples = client.Run(driverLoop, n);
        parks = parks.Stop(n);
        // A second window of the same length counts what the two hot threads allocate, apart from the timed one.
        long allocated = LoopAllocationProbe.AllocatedDuring([driverLoop, deviceLoop], () => client.Run(driverLoop, n));
        if (client.Errors > 0) throw new BenchmarkFailedException($"vring round trip: {client.Errors} of {client.Completed} replies were not exactly their request");

        double? idle = null;
        if (measureIdle)
        {
            Thread.Sleep(100); // let both loops pass their spin budget and park
            var proc = Process.GetCurrentProcess();
            TimeSpan cpu0 = proc.TotalProcessorTime;
            long t0 = Stopwatch.GetTimestamp();
            Thread.Sleep(TimeSpan.FromSeconds(settings.IdleSeconds));
            proc.Refresh();
            double cpu = (proc.TotalProcessorTime - cpu0).TotalSeconds;
            idle = 100 * cpu / Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        return (LatencyStats.From(samples), allocated / (double)n, idle, parks);
    }

    internal void WarmUp(Action chunk)
    {
        long t0 = Stopwatch.GetTimestamp();
        do chunk();
        while (Stopwatch.GetElapsedTime(t0).TotalSeconds < settings.WarmupSeconds);
    }

    internal (double BuffersPerSecond, double AllocPerBuffer, LoopParks Parks) Stream(NotificationMode mode, int payload, int n)
    {
        using var bed = new VringTestbed();
        var device = new SplitVirtqueueDevice(bed.Ring, bed.Memory, eventIndex: true, indirectDescriptors: true);
        var driver = new SplitVirtqueueDriver(bed.Ring, eventIndex: true, clearRing: false);
        var sink = new VringSinkDevice(device, bed.DeviceBell);
        var client = new StreamClient(driver, bed.DriverBell, bed, payload);
        if (mode == NotificationMode.Polling)
        {
            device.DisableNotifications();
            driver.DisableCallbacks();
        }
        NotificationLoop deviceLoop = bed.StartLoop("device", mode, sink, bed.DeviceBell, cpu: 1);
        NotificationLoop driverLoop = bed.StartLoop("driver", mode, client, bed.DriverBell, cpu: 0);
        WarmUp(() => client.Run(driverLoop, Math.Max(10_000, n / 20)));
        var parks = LoopParks.Start(driverLoop, deviceLoop);
        long t0 = Stopwatch.GetTimestamp();
        client.Run(driverLoop, n);
        double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        parks = parks.Stop(n);
        long allocated = LoopAllocationProbe.AllocatedDuring([driverLoop, deviceLoop], () => client.Run(driverLoop, n));
        // Every buffer has come back, so the device has consumed all of them.
        if (sink.Digest != client.Digest)
            throw new BenchmarkFailedException($"vring stream: the device received {sink.Digest}; the driver sent {client.Digest}");
        return (n / seconds, allocated / (double)n, parks);
    }
}

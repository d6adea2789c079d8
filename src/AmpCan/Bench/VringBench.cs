using System.Diagnostics;
using AmpCan.Host.Peers;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Vring;

namespace AmpCan.Host.Bench;

/// <summary>How long each part of a benchmark runs.</summary>
/// <param name="SpinRoundTrips">Round trips measured per busy-poll or adaptive case.</param>
/// <param name="DoorbellRoundTrips">Round trips measured per eventfd case.</param>
/// <param name="StreamBuffers">Buffers moved per throughput case.</param>
/// <param name="IdleSeconds">How long the idle adaptive loops are watched for CPU use.</param>
/// <param name="WarmupSeconds">How long each case runs before it is measured: tiered JIT promotes the hot loops only after
/// a call-counting delay and on-stack replacement, so a count-based warm-up measures unoptimised code.</param>
/// <param name="Filter">When set, only the cases whose key contains it run (floors always run).</param>
public sealed record BenchSettings(int SpinRoundTrips = 200_000, int DoorbellRoundTrips = 20_000, int StreamBuffers = 4_000_000, double IdleSeconds = 2, double WarmupSeconds = 0.5, string? Filter = null)
{
    /// <summary>A short run for smoke tests and CI.</summary>
    public static BenchSettings Quick => new(5_000, 500, 50_000, 0.3, 0.05);

    /// <summary>True when the case named <paramref name="key"/> is to run.</summary>
    public bool Runs(string key) => string.IsNullOrEmpty(Filter) || key.Contains(Filter, StringComparison.Ordinal);
}

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
                    return (Floor: f, r.Stats, r.AllocPerBuffer, r.IdleCpuPercent, Ratio: r.Stats.MedianUs / f.MedianUs);
                }).ToList();
                var mid = runs.OrderBy(r => r.Ratio).ElementAt(Repetitions / 2);
                LatencyStats stats = mid.Stats;
                double alloc = runs.Max(r => r.AllocPerBuffer);
                double? idleCpu = runs[0].IdleCpuPercent;
                report.AddLatency("vring round trip (driver adds, device echoes, driver collects); middle of 3 runs by ratio", key, stats);
                report.AddLatency("floor measured right before that run", $"{key}.floor", mid.Floor);
                report.Add("allocation (bytes per buffer allocated by the driver and device threads, steady state; worst of 3 runs)", $"{key}.alloc_bytes_per_buffer", alloc, $"{alloc:F3}");
                report.Add("ratios", $"{key}.vs_floor", mid.Ratio, $"{mid.Ratio:F2}x of the {(mode == NotificationMode.Doorbell ? "eventfd" : "cache-line")} floor measured just before it (median; ratios of the 3 runs: {string.Join(", ", runs.Select(r => r.Ratio.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)))})");
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
                double rate = streams.Select(x => x.BuffersPerSecond).Order().ElementAt(Repetitions / 2);
                double alloc = streams.Max(x => x.AllocPerBuffer);
                report.Add("one-way throughput (batches, ring kept full; middle of 3 runs)", $"{key}.buffers_per_s", rate,
                    $"{rate / 1e6:F2} M buffers/s   {rate * payload / 1e6:F0} MB/s   (runs: {string.Join(", ", streams.Select(x => (x.BuffersPerSecond / 1e6).ToString("F2", System.Globalization.CultureInfo.InvariantCulture)))} M/s)");
                report.Add("allocation (bytes per buffer allocated by the driver and device threads, steady state; worst of 3 runs)", $"{key}.alloc_bytes_per_buffer", alloc, $"{alloc:F3}");
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

    internal (LatencyStats Stats, double AllocPerBuffer, double? IdleCpuPercent) RoundTrip(NotificationMode mode, int payload, int n, bool measureIdle)
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
        long[] samples = client.Run(driverLoop, n);
        // A second window of the same length counts what the two hot threads allocate, apart from the timed one.
        long allocated = LoopAllocationProbe.AllocatedDuring([driverLoop, deviceLoop], () => client.Run(driverLoop, n));
        if (client.Errors > 0) throw new InvalidOperationException($"{client.Errors} echoes came back wrong");

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
        return (LatencyStats.From(samples), allocated / (double)n, idle);
    }

    internal void WarmUp(Action chunk)
    {
        long t0 = Stopwatch.GetTimestamp();
        do chunk();
        while (Stopwatch.GetElapsedTime(t0).TotalSeconds < settings.WarmupSeconds);
    }

    internal (double BuffersPerSecond, double AllocPerBuffer) Stream(NotificationMode mode, int payload, int n)
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
        long t0 = Stopwatch.GetTimestamp();
        client.Run(driverLoop, n);
        double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        long allocated = LoopAllocationProbe.AllocatedDuring([driverLoop, deviceLoop], () => client.Run(driverLoop, n));
        if (sink.Checksum != client.Checksum) throw new InvalidOperationException("the sink saw other payloads than the driver sent");
        return (n / seconds, allocated / (double)n);
    }
}

/// <summary>A memfd with one 256-entry legacy ring (align 4096) and two 128 KiB buffer pools, and an eventfd doorbell pair.</summary>
internal sealed class VringTestbed : IDisposable
{
    public const int QueueSize = 256;
    public const ulong Align = 4096;
    public const ulong DeviceBase = 0x1000_0000;
    public const ulong ReadPool = 0x10000, WritePool = 0x50000, Slot = 512;

    public readonly MappedRegion Region = MappedRegion.CreateMemfd("bench", 0x100000, DeviceBase);
    public readonly MemoryMap Memory;
    public readonly SplitRing Ring;
    public readonly EventFdDoorbell DriverBell, DeviceBell;
    private readonly List<NotificationLoop> _loops = [];

    public VringTestbed()
    {
        Memory = new MemoryMap(Region.Io);
        Ring = SplitRing.Legacy(Region.Io.Slice(0, VringLayout.LegacySize(QueueSize, Align)), QueueSize, Align);
        Ring.Clear();
        (DriverBell, DeviceBell) = EventFdDoorbell.CreatePair();
    }

    public IoRegion Io => Region.Io;

    public NotificationLoop StartLoop(string name, NotificationMode mode, INotificationHandler handler, Doorbell bell, int cpu)
    {
        var loop = new NotificationLoop(name, mode, TimeSpan.FromMicroseconds(50));
        loop.HandlerFaulted += (_, e) => Console.Error.WriteLine($"{name}: {e.Message}");
        loop.Add(handler, bell);
        loop.Start(cpu);
        _loops.Add(loop);
        return loop;
    }

    public void Dispose()
    {
        foreach (NotificationLoop loop in _loops) loop.Dispose();
        DriverBell.Dispose();
        DeviceBell.Dispose();
        Region.Dispose();
    }
}

/// <summary>Driver side of the round-trip benchmark: one request in flight, timed from add to collect.</summary>
internal sealed class PingClient : INotificationHandler
{
    private readonly SplitVirtqueueDriver _queue;
    private readonly Doorbell _bell;
    private readonly IoRegion _io;
    private readonly int _payload;
    private readonly VirtqBuffer[] _readable, _writable;
    private readonly byte[] _template;
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
        _payload = payload;
        _template = new byte[payload];
        Random.Shared.NextBytes(_template);
        _readable = [new VirtqBuffer(VringTestbed.DeviceBase + VringTestbed.ReadPool, (uint)payload)];
        _writable = [new VirtqBuffer(VringTestbed.DeviceBase + VringTestbed.WritePool, (uint)payload)];
    }

    public int Errors;

    /// <summary>Measures <paramref name="n"/> round trips on the loop's thread and returns their durations in ticks.</summary>
    public long[] Run(NotificationLoop loop, int n)
    {
        _samples = new long[n];
        _count = 0;
        _done.Reset();
        _startRequested = true;
        loop.Wake();
        if (!_done.Wait(TimeSpan.FromMinutes(5))) throw new TimeoutException($"round trips stalled after {_count} of {n}");
        return _samples;
    }

    private void Send()
    {
        _seq++;
        _sentAt = Stopwatch.GetTimestamp();
        // A producer fills the whole payload, as an rpmsg sender does; the sequence number in front proves the echo.
        _io.Write(VringTestbed.ReadPool, _template);
        _io.WriteU64(VringTestbed.ReadPool, _seq);
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
        if (used.Length != _payload || _io.ReadU64(VringTestbed.WritePool) != _seq) Errors++;
        _samples[_count++] = dt;
        if (_count == _samples.Length) _done.Set();
        else Send();
        return true;
    }

    public bool ArmNotifications() => _queue.EnableCallbacks();
    public void DisarmNotifications() => _queue.DisableCallbacks();
}

/// <summary>Driver side of the throughput benchmark: keeps the ring full of readable buffers and recycles them as they come back.</summary>
internal sealed class StreamClient : INotificationHandler
{
    private readonly SplitVirtqueueDriver _queue;
    private readonly Doorbell _bell;
    private readonly IoRegion _io;
    private readonly int _payload;
    private readonly int[] _freeSlots = new int[VringTestbed.QueueSize];
    private readonly ManualResetEventSlim _done = new();
    private readonly byte[] _template;
    private int _freeCount;
    private long _target, _issued, _completed;
    private ulong _seq;
    private volatile bool _running;

    public StreamClient(SplitVirtqueueDriver queue, Doorbell bell, VringTestbed bed, int payload)
    {
        _queue = queue;
        _bell = bell;
        _io = bed.Io;
        _payload = payload;
        _template = new byte[payload];
        Random.Shared.NextBytes(_template);
        for (int i = 0; i < _freeSlots.Length; i++) _freeSlots[_freeCount++] = i;
    }

    /// <summary>Sum of the first 8 bytes of every payload sent, to compare with the sink's.</summary>
    public ulong Checksum;

    public void Run(NotificationLoop loop, long n)
    {
        _done.Reset();
        _issued = _completed = 0;
        _target = n;
        _running = true;
        loop.Wake();
        if (!_done.Wait(TimeSpan.FromMinutes(5))) throw new TimeoutException($"stream stalled after {_completed} of {n}");
    }

    public bool Process()
    {
        if (!_running) return false;
        int got = 0;
        while (_queue.TryGetUsed(out UsedBuffer u))
        {
            _freeSlots[_freeCount++] = u.Token;
            got++;
        }
        _completed += got;
        if (_completed >= _target)
        {
            _running = false;
            _done.Set();
            return true;
        }
        int added = 0;
        while (_freeCount > 0 && _issued < _target)
        {
            int slot = _freeSlots[--_freeCount];
            ulong off = VringTestbed.ReadPool + (ulong)slot * VringTestbed.Slot;
            _seq++;
            Span<byte> p = _io.GetSpan(off, _payload);
            _template.CopyTo(p);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(p, _seq);
            Checksum += _seq;
            _queue.TryAdd(new VirtqBuffer(VringTestbed.DeviceBase + off, (uint)_payload), false, slot);
            _issued++;
            added++;
        }
        if (added > 0 && _queue.KickPrepare()) _bell.Ring();
        return got > 0 || added > 0;
    }

    public bool ArmNotifications() => _queue.EnableCallbacks();
    public void DisarmNotifications() => _queue.DisableCallbacks();
}

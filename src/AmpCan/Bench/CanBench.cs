using System.Diagnostics;
using System.Globalization;
using AmpCan.SharedMem.Doorbells;
using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;

namespace AmpCan.Host.Bench;

/// <summary>
/// <c>ampcan bench can</c>: virtio-can over the sim board's resource-table vdev (<see cref="CanTestbed"/>), classic
/// 8-byte and CAN FD 64-byte frames, in the three notification modes, with and without LATE_TX_ACK: the round trip
/// from the driver through the device to an echo member on the virtual bus and back (with the vring round trip and the
/// bus-only echo measured right before it), the software cost per frame on one thread, one-way throughput both ways
/// against the 1 M classic frames/s target, bytes allocated per frame, the loops' CPU when idle, and the paced bus at
/// 1 Mbit/s losing nothing just below its rate. Every frame is checked; a lost, repeated, reordered or changed frame
/// fails the run (<see cref="BenchmarkFailedException"/>).
/// </summary>
public sealed class CanBench(BenchSettings settings, TextWriter log)
{
    /// <summary>Runs per case; the middle one (by ratio, or by rate) is reported.</summary>
    public const int Repetitions = 3;

    /// <summary>The issue's target for classic frames through the device, frames/s.</summary>
    public const double TargetFramesPerSecond = 1_000_000;

    /// <summary>The paced bus's bit rate.</summary>
    public const int PacedBitrate = 1_000_000;

    /// <summary>The paced stream's rate as a share of the wire's.</summary>
    public const double PacedLoad = 0.98;

    /// <summary>How far the flooder may run ahead of the driver's reader (below every queue on the way: 256).</summary>
    public const int FloodWindow = 128;

    private static readonly NotificationMode[] Modes = [NotificationMode.Polling, NotificationMode.Doorbell, NotificationMode.Adaptive];
    private static readonly TimeSpan StreamPatience = TimeSpan.FromMinutes(2);

    // Frames per stream window at most: half a million in a full run (half a second at the target), 6,250 in a quick one.
    private long StreamFrames => settings.StreamBuffers / 8;

    private const string RtSection = "virtio-can round trip (driver sends one frame, device puts it on the bus, an echo member on the device's loop answers, device delivers the answer, driver takes it and checks it whole); middle of 3 runs by ratio to the vring round trip";
    private const string FloorSection = "floors measured right before that run: vring round trip of the same message size (16-byte header + data), and the same echo over the bus alone between the two loops";
    private const string AllocSection = "allocation (bytes per frame allocated on the driver's and the device's loop threads, which also run the sender and the bus members; worst of 3 runs)";
    private const string StreamSection = "one-way throughput driver -> device -> bus (driver loop sends while transmit slots are free; a sink member on the device's loop checks every frame in sequence; middle of 3 runs)";
    private const string RecvSection = "one-way throughput bus -> device -> driver (a member on the device's loop floods, at most 128 frames ahead of the reader on the driver's loop, which checks every frame in sequence; middle of 3 runs)";
    private const string PacedSection = "paced bus at 1 Mbit/s, classic 8-byte frames (one run each)";

    /// <summary>Runs every case the filter selects and returns the figures.</summary>
    public BenchReport Run()
    {
        var report = new BenchReport();
        var vring = new VringBench(settings, log);
        CanBenchFrames[] kinds = [new(fd: false), new(fd: true)];
        foreach (CanBenchFrames frames in kinds)
            foreach (NotificationMode mode in Modes)
                foreach (bool late in new[] { true, false })
                    RoundTripCase(report, vring, mode, frames, late);
        foreach (CanBenchFrames frames in kinds)
        {
            foreach (bool late in new[] { true, false })
                CostCase(report, vring, frames, receive: false, late);
            CostCase(report, vring, frames, receive: true, late: true);
        }
        foreach (CanBenchFrames frames in kinds)
            foreach (NotificationMode mode in Modes)
                foreach (bool late in new[] { true, false })
                    StreamCase(report, mode, frames, late);
        foreach (CanBenchFrames frames in kinds)
            foreach (NotificationMode mode in Modes)
                ReceiveCase(report, mode, frames);
        foreach (NotificationMode mode in new[] { NotificationMode.Doorbell, NotificationMode.Adaptive })
            IdleCase(report, mode);
        foreach (NotificationMode mode in Modes)
        {
            PacedCase(report, mode, late: true, saturate: false);
            PacedCase(report, mode, late: false, saturate: false);
            PacedCase(report, mode, late: true, saturate: true);
        }
        return report;
    }

    private static string Late(bool late) => late ? "late" : "nolate";

    /// <summary>Bytes allocated per frame on the driver's loop thread (which also sends) and on the device's (which also runs the bus members).</summary>
    private readonly record struct FrameAllocation(double Driver, double Device)
    {
        public double Total => Driver + Device;

        public static FrameAllocation Worst(IEnumerable<FrameAllocation> runs) =>
            runs.Aggregate(new FrameAllocation(0, 0), (a, b) => new FrameAllocation(Math.Max(a.Driver, b.Driver), Math.Max(a.Device, b.Device)));

        public void AddTo(BenchReport report, string key)
        {
            report.Add(AllocSection, $"{key}.alloc_bytes_per_frame", Total, $"{Total:F3}   (driver loop {Driver:F3}, device loop {Device:F3})");
            report.Add(AllocSection, $"{key}.driver_alloc_bytes_per_frame", Driver, $"{Driver:F3}");
            report.Add(AllocSection, $"{key}.device_alloc_bytes_per_frame", Device, $"{Device:F3}");
        }
    }

    /// <summary>What the two loop threads of <paramref name="bed"/> allocate while <paramref name="run"/> moves <paramref name="frames"/> frames.</summary>
    private static FrameAllocation Allocated(CanTestbed bed, long frames, Action run)
    {
        long device = 0;
        long driver = LoopAllocationProbe.AllocatedDuring([bed.DriverLoop], () => device = LoopAllocationProbe.AllocatedDuring([bed.DeviceLoop], run));
        return new FrameAllocation(driver / (double)frames, device / (double)frames);
    }

    private static string Runs(IEnumerable<double> values, string format) =>
        string.Join(", ", values.Select(v => v.ToString(format, CultureInfo.InvariantCulture)));

    private void RoundTripCase(BenchReport report, VringBench vring, NotificationMode mode, CanBenchFrames frames, bool late)
    {
        string key = $"can.rt.{VringBench.Name(mode)}.{frames.Name}.{Late(late)}";
        if (!settings.Runs(key)) return;
        log.WriteLine($"# {key} ...");
        int n = mode == NotificationMode.Doorbell ? settings.DoorbellRoundTrips : settings.SpinRoundTrips;
        // The VM's speed shifts in phases lasting seconds: each run measures its floors right before its case.
        var runs = Enumerable.Range(0, Repetitions).Select(_ =>
        {
            LatencyStats ring = vring.RoundTrip(mode, frames.MessageBytes, n, measureIdle: false).Stats;
            LatencyStats bus = BusRoundTrip(vring, mode, frames, n);
            var r = RoundTrip(vring, mode, frames, late, n);
            return (Ring: ring, Bus: bus, r.Stats, r.Alloc, r.Window, Ratio: r.Stats.MedianUs / ring.MedianUs);
        }).ToList();
        var mid = runs.OrderBy(r => r.Ratio).ElementAt(Repetitions / 2);
        report.AddLatency(RtSection, key, mid.Stats);
        report.AddLatency(FloorSection, $"{key}.floor_vring", mid.Ring);
        report.AddLatency(FloorSection, $"{key}.floor_bus", mid.Bus);
        report.Add("ratios", $"{key}.vs_vring", mid.Ratio,
            $"{mid.Ratio:F2}x the vring round trip of {frames.MessageBytes} bytes measured just before it (median; ratios of the 3 runs: {Runs(runs.Select(r => r.Ratio), "F2")})");
        double vsBus = mid.Stats.MedianUs / mid.Bus.MedianUs;
        report.Add("ratios", $"{key}.vs_bus", vsBus, $"{vsBus:F2}x the bus-only echo between the same two loops (median)");
        FrameAllocation.Worst(runs.Select(r => r.Alloc)).AddTo(report, key);
        mid.Window.AddTo(report, key);
    }

    private (LatencyStats Stats, FrameAllocation Alloc, CanWindow Window) RoundTrip(VringBench vring, NotificationMode mode, CanBenchFrames frames, bool late, int n)
    {
        using var bed = new CanTestbed("bench-can-rt", mode, late);
        using var echo = new CanEchoMember(bed.Bus.Attach("echo"), bed.DeviceLoop, bed.Faults);
        bed.DeviceLoop.Add(echo);
        using var client = new CanPingClient(bed.Driver, bed.DriverLoop, frames, bed.Faults);
        bed.DriverLoop.Add(client);
        vring.WarmUp(() => client.Run(Math.Max(500, n / 20)));
        var parks = CanWindow.Start(bed);
        long[] samples = client.Run(n);
        parks = parks.Stop(n);
        // A second window of the same length counts what the two loop threads allocate, apart from the timed one.
        FrameAllocation allocated = Allocated(bed, n, () => client.Run(n));
        if (client.Errors > 0) throw new BenchmarkFailedException($"can round trip: {client.Errors} replies were not exactly their request");
        bed.ThrowIfUnclean("can round trip");
        return (LatencyStats.From(samples), allocated, parks);
    }

    /// <summary>The floor: the same client and echo member on the same two pinned loops, talking over the bus alone.</summary>
    private static LatencyStats BusRoundTrip(VringBench vring, NotificationMode mode, CanBenchFrames frames, int n)
    {
        var faults = new CaseFaults();
        using var bus = new VirtualCanBus("bench-can-floor");
        using NotificationLoop clientLoop = CanTestbed.StartLoop("can-floor-client", mode, cpu: 0, faults);
        using NotificationLoop echoLoop = CanTestbed.StartLoop("can-floor-echo", mode, cpu: 1, faults);
        using var echo = new CanEchoMember(bus.Attach("echo"), echoLoop, faults);
        echoLoop.Add(echo);
        using var client = new CanPingClient(bus.Attach("client"), clientLoop, frames, faults);
        clientLoop.Add(client);
        vring.WarmUp(() => client.Run(Math.Max(500, n / 20)));
        long[] samples = client.Run(n);
        if (client.Errors > 0) throw new BenchmarkFailedException($"bus-only round trip: {client.Errors} replies were not exactly their request");
        faults.ThrowIfFaulted();
        return LatencyStats.From(samples);
    }

    private const string CostSection = "software cost per frame: driver, device, bus and the sink (or flooder) all on one busy-polling loop on CPU 0, so no cache line crosses cores and no thread waits; CPU time of that thread over the run (middle of 3 runs)";
    private bool _wakeCostReported;

    private void CostCase(BenchReport report, VringBench vring, CanBenchFrames frames, bool receive, bool late)
    {
        string key = receive ? $"can.cost.rx.{frames.Name}" : $"can.cost.tx.{frames.Name}.{Late(late)}";
        if (!settings.Runs(key)) return;
        log.WriteLine($"# {key} ...");
        if (!_wakeCostReported)
        {
            _wakeCostReported = true;
            double wake = WakeCost(100_000);
            report.Add(CostSection, "can.cost.wake_cpu_ns", wake, $"{wake:F0} ns CPU per NotificationLoop.Wake (an eventfd write) on the calling thread");
        }
        long n = StreamFrames;
        var runs = Enumerable.Range(0, Repetitions).Select(_ => Cost(vring, frames, receive, late, n)).ToList();
        var mid = runs.OrderBy(r => r.CpuNs).ElementAt(Repetitions / 2);
        report.Add(CostSection, $"{key}.cpu_ns_per_frame", mid.CpuNs,
            $"{mid.CpuNs:F0} ns CPU per frame, {1e3 / mid.CpuNs:F2} M frames/s for a thread with a core of its own (runs: {Runs(runs.Select(r => r.CpuNs), "F0")} ns)");
        report.Add(CostSection, $"{key}.device_port_wakes_per_frame", mid.Wakes,
            $"{mid.Wakes:F3} wake-ups of the device's loop per frame, each an eventfd write on the thread that queued the frame");
    }

    /// <summary>CPU time per <see cref="NotificationLoop.Wake"/> on the calling thread (the loop is not running: nothing reads the eventfd).</summary>
    private static double WakeCost(int n)
    {
        using var loop = new NotificationLoop("can-wake-cost", NotificationMode.Doorbell);
        for (int i = 0; i < n / 10; i++) loop.Wake();
        int tid = AmpCan.SharedMem.ThreadCpuTime.CurrentThreadId();
        TimeSpan? cpu0 = AmpCan.SharedMem.ThreadCpuTime.Of(tid);
        for (int i = 0; i < n; i++) loop.Wake();
        TimeSpan? cpu1 = AmpCan.SharedMem.ThreadCpuTime.Of(tid);
        return cpu0 is TimeSpan a && cpu1 is TimeSpan b ? (b - a).TotalMilliseconds * 1e6 / n : double.NaN;
    }

    private (double CpuNs, double Wakes) Cost(VringBench vring, CanBenchFrames frames, bool receive, bool late, long n)
    {
        using var bed = new CanTestbed("bench-can-cost", NotificationMode.Polling, late, oneLoop: true);
        var wakes = new PortWakeCounter(bed.DevicePort);
        NotificationLoop loop = bed.DriverLoop;
        Func<long, long> run; // frames moved so far and the next count: the receiver's total when the run has ended
        IDisposable member;
        if (receive)
        {
            var flooder = new CanFlooder(bed.Bus.Attach("flooder"), loop, frames, bed.Faults, FloodWindow);
            var sink = new CanStreamSink(bed.Driver, loop, frames, bed.Faults, flooder.WakeIfParked);
            flooder.Taken = () => sink.Received;
            loop.Add(flooder);
            loop.Add(sink);
            member = sink;
            run = count =>
            {
                sink.Expect(flooder.Sent + count);
                flooder.Run(count);
                sink.Wait(StreamPatience);
                if (sink.SequenceErrors > 0) throw new BenchmarkFailedException($"{sink.SequenceErrors} frames out of sequence; the first: {sink.FirstError}");
                return sink.Received;
            };
        }
        else
        {
            var sink = new CanStreamSink(bed.Bus.Attach("sink"), loop, frames, bed.Faults);
            var sender = new CanStreamSender(bed.Driver, loop, frames, bed.Faults);
            loop.Add(sink);
            loop.Add(sender);
            member = sink;
            run = count =>
            {
                sink.Expect(sender.Sent + count);
                sender.Run(count);
                sink.Wait(StreamPatience);
                if (sink.SequenceErrors > 0) throw new BenchmarkFailedException($"{sink.SequenceErrors} frames out of sequence; the first: {sink.FirstError}");
                return sink.Received;
            };
        }
        using (member)
        {
            vring.WarmUp(() => run(Math.Max(10_000, n / 20)));
            TimeSpan cpu0 = loop.CpuTime ?? TimeSpan.Zero;
            long wakes0 = wakes.Wakes;
            run(n);
            double cpu = ((loop.CpuTime ?? TimeSpan.Zero) - cpu0).TotalMilliseconds * 1e6 / n;
            double perFrame = (wakes.Wakes - wakes0) / (double)n;
            bed.ThrowIfUnclean("can cost");
            return (cpu, perFrame);
        }
    }

    private void StreamCase(BenchReport report, NotificationMode mode, CanBenchFrames frames, bool late)
    {
        string key = $"can.stream.{VringBench.Name(mode)}.{frames.Name}.{Late(late)}";
        if (!settings.Runs(key)) return;
        log.WriteLine($"# {key} ...");
        long n = StreamFrames;
        var runs = Enumerable.Range(0, Repetitions).Select(_ => Stream(mode, frames, late, n)).ToList();
        var mid = runs.OrderBy(r => r.FramesPerSecond).ElementAt(Repetitions / 2);
        AddRate(report, StreamSection, key, mid.FramesPerSecond, frames, runs.Select(r => r.FramesPerSecond));
        if (!frames.Fd)
        {
            double share = mid.FramesPerSecond / TargetFramesPerSecond;
            report.Add("targets", $"{key}.vs_target", share,
                $"{share:F2}x the target of 1,000,000 classic frames/s through the device: {(share >= 1 ? "met" : "MISSED")}");
        }
        FrameAllocation.Worst(runs.Select(r => r.Alloc)).AddTo(report, key);
        mid.Window.AddTo(report, key);
    }

    private static void AddRate(BenchReport report, string section, string key, double rate, CanBenchFrames frames, IEnumerable<double> runs) =>
        report.Add(section, $"{key}.frames_per_s", rate,
            $"{rate / 1e6:F3} M frames/s   {rate * frames.Length / 1e6:F1} MB/s data   (runs: {Runs(runs.Select(r => r / 1e6), "F3")} M/s)");

    private (double FramesPerSecond, FrameAllocation Alloc, CanWindow Window) Stream(NotificationMode mode, CanBenchFrames frames, bool late, long n)
    {
        using var bed = new CanTestbed("bench-can-stream", mode, late);
        using var sink = new CanStreamSink(bed.Bus.Attach("sink"), bed.DeviceLoop, frames, bed.Faults);
        bed.DeviceLoop.Add(sink);
        var sender = new CanStreamSender(bed.Driver, bed.DriverLoop, frames, bed.Faults);
        bed.DriverLoop.Add(sender);
        (double seconds, FrameAllocation allocated, CanWindow parks) = TimedStream(bed, sink, () => sender.Sent, sender.Run, ref n);
        bed.DriverLoop.Remove(sender);
        CheckStream("can stream", sink, sender.Sent);
        AwaitAnswers(bed, sender.Sent, "can stream");
        bed.ThrowIfUnclean("can stream");
        return (n / seconds, allocated, parks);
    }

    /// <summary>
    /// Warms a stream up (<see cref="BenchSettings.WarmupSeconds"/>) and sizes its windows from the rate it reached:
    /// about twice the warm-up long (1 s in a full run), at most <paramref name="most"/> frames. The rates range from tens
    /// of thousands to millions of frames a second; a fixed count would make the slow cases take minutes.
    /// </summary>
    private long WindowFrames(Func<long, double> runToCompletion, long most)
    {
        long chunk = Math.Max(10_000, most / 20);
        double rate = 0;
        long t0 = Stopwatch.GetTimestamp();
        do rate = chunk / runToCompletion(chunk);
        while (Stopwatch.GetElapsedTime(t0).TotalSeconds < settings.WarmupSeconds);
        long least = Math.Min(most, 10_000);
        return Math.Min(most, Math.Max(least, (long)(rate * 2 * settings.WarmupSeconds)));
    }

    private static void CheckStream(string what, CanStreamSink sink, long sent)
    {
        if (sink.SequenceErrors > 0)
            throw new BenchmarkFailedException($"{what}: {sink.SequenceErrors} frames were not the next in sequence; the first: {sink.FirstError}");
        if (sink.Received != sent) throw new BenchmarkFailedException($"{what}: {sent} frames sent, {sink.Received} received");
    }

    // Every transmit is answered (OK) shortly after its frame reached the bus; a NOT_OK answer would be a lost frame.
    private static void AwaitAnswers(CanTestbed bed, long sent, string what)
    {
        var clock = Stopwatch.StartNew();
        while (bed.Driver.Counters.TransmitsConfirmed + bed.Driver.Counters.TransmitsFailed < sent)
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(30))
                throw new BenchmarkFailedException($"{what}: {bed.Driver.Counters.TransmitsConfirmed} of {sent} transmits answered after 30 s");
            Thread.Sleep(1);
        }
    }

    private void ReceiveCase(BenchReport report, NotificationMode mode, CanBenchFrames frames)
    {
        // LATE_TX_ACK plays no part: the driver sends nothing.
        string key = $"can.recv.{VringBench.Name(mode)}.{frames.Name}";
        if (!settings.Runs(key)) return;
        log.WriteLine($"# {key} ...");
        long n = StreamFrames;
        var runs = Enumerable.Range(0, Repetitions).Select(_ => Receive(mode, frames, n)).ToList();
        var mid = runs.OrderBy(r => r.FramesPerSecond).ElementAt(Repetitions / 2);
        AddRate(report, RecvSection, key, mid.FramesPerSecond, frames, runs.Select(r => r.FramesPerSecond));
        FrameAllocation.Worst(runs.Select(r => r.Alloc)).AddTo(report, key);
        mid.Window.AddTo(report, key);
    }

    // A stream's measurement, either direction: the window sized from a warm-up, then the timed run (until the sink has
    // taken and checked the last frame, not until the sender queued it) with the loops' parks, then the allocation run.
    private (double Seconds, FrameAllocation Alloc, CanWindow Window) TimedStream(CanTestbed bed, CanStreamSink sink, Func<long> sent, Action<long> run, ref long n)
    {
        double RunToCompletion(long count)
        {
            sink.Expect(sent() + count);
            long start = Stopwatch.GetTimestamp();
            run(count);
            sink.Wait(StreamPatience);
            return (sink.LastAt - start) / (double)Stopwatch.Frequency;
        }
        long frames = n = WindowFrames(RunToCompletion, n);
        var parks = CanWindow.Start(bed);
        double seconds = RunToCompletion(frames);
        parks = parks.Stop(frames);
        FrameAllocation allocated = Allocated(bed, frames, () => RunToCompletion(frames));
        return (seconds, allocated, parks);
    }

    private (double FramesPerSecond, FrameAllocation Alloc, CanWindow Window) Receive(NotificationMode mode, CanBenchFrames frames, long n)
    {
        using var bed = new CanTestbed("bench-can-recv", mode, lateTxAck: true);
        using var flooder = new CanFlooder(bed.Bus.Attach("flooder"), bed.DeviceLoop, frames, bed.Faults, FloodWindow);
        using var sink = new CanStreamSink(bed.Driver, bed.DriverLoop, frames, bed.Faults, flooder.WakeIfParked);
        flooder.Taken = () => sink.Received;
        bed.DeviceLoop.Add(flooder);
        bed.DriverLoop.Add(sink);
        (double seconds, FrameAllocation allocated, CanWindow parks) = TimedStream(bed, sink, () => flooder.Sent, flooder.Run, ref n);

        CheckStream("can receive stream", sink, flooder.Sent);
        bed.ThrowIfUnclean("can receive stream");
        return (n / seconds, allocated, parks);
    }

    /// <summary>How much CPU each loop takes with the controller started and no frame moving (a busy-poll loop takes a core by design).</summary>
    private void IdleCase(BenchReport report, NotificationMode mode)
    {
        string key = $"can.idle.{VringBench.Name(mode)}";
        if (!settings.Runs(key)) return;
        log.WriteLine($"# {key} ...");
        using var bed = new CanTestbed("bench-can-idle", mode, lateTxAck: true);
        Thread.Sleep(100); // let both loops pass their spin budget and park
        TimeSpan driver0 = bed.DriverLoop.CpuTime ?? TimeSpan.Zero, device0 = bed.DeviceLoop.CpuTime ?? TimeSpan.Zero;
        long t0 = Stopwatch.GetTimestamp();
        Thread.Sleep(TimeSpan.FromSeconds(settings.IdleSeconds));
        double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        double driver = 100 * ((bed.DriverLoop.CpuTime ?? TimeSpan.Zero) - driver0).TotalSeconds / seconds;
        double device = 100 * ((bed.DeviceLoop.CpuTime ?? TimeSpan.Zero) - device0).TotalSeconds / seconds;
        bed.ThrowIfUnclean(key);
        const string Section = "idle (controller started, receive buffers posted, no frame moving): CPU of each loop thread";
        report.Add(Section, $"{key}.driver_cpu_percent", driver, $"{driver:F3} % of one core (driver loop)");
        report.Add(Section, $"{key}.device_cpu_percent", device, $"{device:F3} % of one core (device loop)");
    }

    private void PacedCase(BenchReport report, NotificationMode mode, bool late, bool saturate)
    {
        string key = saturate ? $"can.paced.{VringBench.Name(mode)}.saturate" : $"can.paced.{VringBench.Name(mode)}.below.{Late(late)}";
        if (!settings.Runs(key)) return;
        // Both busy-polling loops take the two cores of the machine the figures are taken on: an application thread
        // would only run when the scheduler takes one from them, and the figure would measure the scheduler.
        if (!saturate && mode == NotificationMode.Polling) return;
        log.WriteLine($"# {key} ...");
        var frames = new CanBenchFrames(fd: false);
        var probe = new CanFrame();
        frames.Fill(ref probe, 1);
        double wireRate = 1e9 / CanWireTime.Nanoseconds(probe, PacedBitrate);
        double offered = PacedLoad * wireRate;
        // As long as the vring bench's idle watch (2 s; 0.3 s in a quick run), after a warm-up as long as the others'.
        long count = Math.Max(100, (long)(wireRate * settings.IdleSeconds));
        long warm = Math.Max(100, (long)(wireRate * settings.WarmupSeconds));
        TimeSpan patience = TimeSpan.FromSeconds(settings.IdleSeconds * 3 + 30);

        using var bed = new CanTestbed("bench-can-paced", mode, late, PacedBitrate);
        using var sink = new CanStreamSink(bed.Bus.Attach("sink"), bed.DeviceLoop, frames, bed.Faults);
        bed.DeviceLoop.Add(sink);
        CanStreamSender? sender = null;
        if (saturate)
        {
            // As fast as the transmit slots allow: with LATE_TX_ACK a slot frees when the wire has carried its frame.
            sender = new CanStreamSender(bed.Driver, bed.DriverLoop, frames, bed.Faults);
            bed.DriverLoop.Add(sender);
        }
        ulong next = 1;
        (long Start, CanPacedSender.Result Sent) RunPaced(long n)
        {
            sink.Expect(sink.Received + n);
            CanPacedSender.Result r;
            if (sender is not null)
            {
                long start = Stopwatch.GetTimestamp();
                sender.Run(n);
                r = new CanPacedSender.Result(n, 0, 0, start, 0);
            }
            else r = CanPacedSender.Run(bed.Driver, frames, next, n, offered, bed.Faults);
            next += (ulong)n;
            sink.Wait(patience);
            return (r.StartedAt, r);
        }
        RunPaced(warm);
        (long Start, CanPacedSender.Result Sent) timed = default;
        FrameAllocation loopAlloc = Allocated(bed, count, () => timed = RunPaced(count));
        double rate = count / ((sink.LastAt - timed.Start) / (double)Stopwatch.Frequency);
        if (sender is not null) bed.DriverLoop.Remove(sender);
        CheckStream(key, sink, warm + count);
        AwaitAnswers(bed, warm + count, key);
        bed.ThrowIfUnclean(key);

        string how = saturate ? "the driver's loop sends while transmit slots are free, LATE_TX_ACK on"
            : $"an application thread offers {offered:F0} frames/s ({PacedLoad:P0} of the wire), LATE_TX_ACK {(late ? "on" : "off")}";
        report.Add(PacedSection, $"{key}.frames_per_s", rate, $"{rate:F0} frames/s; {count} sent, {count} received in order, none lost ({how})");
        report.Add(PacedSection, $"{key}.vs_wire", rate / wireRate, $"{rate / wireRate:P1} of the wire's {wireRate:F0} frames/s");
        report.Add(PacedSection, $"{key}.lost", 0, "0 (a lost, repeated or reordered frame fails the run)");
        if (!saturate)
        {
            report.Add(PacedSection, $"{key}.busy_answers", timed.Sent.BusyAnswers, $"{timed.Sent.BusyAnswers} sends answered Busy (retried)");
            report.Add(PacedSection, $"{key}.sender_slips", timed.Sent.Slips,
                $"{timed.Sent.Slips} times the sending thread was kept off the CPU for more than {CanPacedSender.MaxCatchUp} frames and moved its schedule on (each lowers the measured rate)");
            double senderAlloc = timed.Sent.AllocatedBytes / (double)count;
            report.Add(AllocSection, $"{key}.sender_alloc_bytes_per_frame", senderAlloc, $"{senderAlloc:F3} (the application's sending thread)");
        }
        loopAlloc.AddTo(report, key); // the timed run itself; the bus's pacer thread is not a loop and is not counted
    }
}

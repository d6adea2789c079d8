using System.Diagnostics;
using System.Globalization;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Ordering;
using AmpCan.Vring;

namespace AmpCan.Host.Bench;

/// <summary>
/// <c>ampcan bench device-memory</c>: what the device-memory policy costs. The same work over the same memfd, once as
/// normal memory with inner-shareable barriers (the fast path memfds, files and vhost-user take) and once as device
/// memory with system barriers (what a /dev/mem or UIO window gets): payload copies in and out, and a whole vring round
/// trip on one thread (driver adds, device pops, copies the request into the reply, returns it, driver collects and
/// checks), so the figure is the policy's cost with no second core, doorbell or scheduler in it.
/// </summary>
public sealed class DeviceMemoryBench(BenchSettings settings, TextWriter log)
{
    /// <summary>Payload sizes measured: a small control message and a full Linux rpmsg payload.</summary>
    public static readonly int[] Payloads = [16, 496];

    private const int QueueSize = 256;
    private const ulong Align = 4096, DeviceBase = 0x1000_0000, RequestPool = 0x10000, ReplyPool = 0x20000;
    private const int Repetitions = 3;
    private long _deviceRingAllocated;

    /// <summary>Runs every case and returns the figures.</summary>
    public BenchReport Run()
    {
        var report = new BenchReport();
        int n = settings.SpinRoundTrips;
        foreach (int payload in Payloads)
        {
            Compare(report, $"devmem.copy.{payload}", "payload copied into the window and back out (IoRegion.Write then Read)", n, device => Copies(device, payload, n));
            Compare(report, $"devmem.ring.{payload}", "vring round trip on one thread (driver adds, device pops and echoes, driver collects and checks)", n, device => RoundTrips(device, payload, n));
            string alloc = $"devmem.ring.{payload}.device_alloc_bytes_per_rt";
            if (settings.Runs(alloc))
            {
                double bytes = _deviceRingAllocated / (double)n;
                report.Add("allocation (bytes allocated per device-memory round trip, timed loop of the last run)", alloc, bytes, $"{bytes:F3}");
            }
        }
        Compare(report, "devmem.fence", "the window's full fence (Fence())", n, device => Fences(device, n));
        return report;
    }

    // Each case is measured normal then device, three times alternating, and the middle ratio reported with its pair.
    private void Compare(BenchReport report, string key, string what, int n, Func<bool, double> nsPer)
    {
        if (!settings.Runs(key)) return;
        log.WriteLine($"# {key} ...");
        var runs = Enumerable.Range(0, Repetitions).Select(_ =>
        {
            double normal = nsPer(false), device = nsPer(true);
            return (Normal: normal, Device: device, Ratio: device / normal);
        }).ToList();
        var mid = runs.OrderBy(r => r.Ratio).ElementAt(Repetitions / 2);
        string section = $"device memory: {what}; ns each, middle of {Repetitions} runs by ratio";
        report.Add(section, $"{key}.normal_ns", mid.Normal, $"{mid.Normal:F1} ns  (normal memory, inner-shareable barriers: the floor)");
        report.Add(section, $"{key}.device_ns", mid.Device, $"{mid.Device:F1} ns  (device memory, system barriers)");
        report.Add(section, $"{key}.device_vs_normal", mid.Ratio,
            $"{mid.Ratio:F2}x  (ratios of the {Repetitions} runs: {string.Join(", ", runs.Select(r => r.Ratio.ToString("F2", CultureInfo.InvariantCulture)))})");
    }

    private static IoRegion Window(MappedRegion region, bool device) =>
        device ? region.Io.AsDeviceMemory().WithBarriers(BarrierDomain.System) : region.Io;

    private double Copies(bool device, int payload, int n)
    {
        using MappedRegion region = MappedRegion.CreateMemfd("bench-devmem-copy", 0x10000);
        IoRegion io = Window(region, device);
        byte[] src = new byte[payload], dst = new byte[payload];
        for (int i = 0; i < payload; i++) src[i] = (byte)(i * 7 + 1);
        // Odd offsets, as rpmsg payloads sit 16 bytes into 512-byte buffers and CAN frames at their own.
        ulong at = 0x1003;
        Warm(() => { io.Write(at, src); io.Read(at, dst); });
        long t0 = Stopwatch.GetTimestamp();
        for (int i = 0; i < n; i++)
        {
            io.Write(at, src);
            io.Read(at, dst);
        }
        double ns = Stopwatch.GetElapsedTime(t0).TotalNanoseconds / n;
        if (!dst.AsSpan().SequenceEqual(src)) throw new BenchmarkFailedException($"device-memory copy of {payload} bytes came back different");
        return ns;
    }

    private double Fences(bool device, int n)
    {
        using MappedRegion region = MappedRegion.CreateMemfd("bench-devmem-fence", 0x1000);
        IoRegion io = Window(region, device);
        Warm(() => io.Fence());
        long t0 = Stopwatch.GetTimestamp();
        for (int i = 0; i < n; i++) io.Fence();
        return Stopwatch.GetElapsedTime(t0).TotalNanoseconds / n;
    }

    private double RoundTrips(bool device, int payload, int n)
    {
        using MappedRegion region = MappedRegion.CreateMemfd("bench-devmem-ring", 0x40000, DeviceBase);
        IoRegion io = Window(region, device);
        var ring = SplitRing.Legacy(io.Slice(0, VringLayout.LegacySize(QueueSize, Align)), QueueSize, Align);
        ring.Clear();
        var memory = new MemoryMap(io);
        var dev = new SplitVirtqueueDevice(ring, memory, eventIndex: true, indirectDescriptors: false);
        var drv = new SplitVirtqueueDriver(ring, eventIndex: true, clearRing: false);
        VirtqBuffer[] readable = [new VirtqBuffer(DeviceBase + RequestPool, (uint)payload)];
        VirtqBuffer[] writable = [new VirtqBuffer(DeviceBase + ReplyPool, (uint)payload)];
        byte[] request = new byte[payload], staged = new byte[payload], reply = new byte[payload];
        int errors = 0;
        void One(int i)
        {
            request[0] = (byte)i;
            request[^1] = (byte)(i >> 8);
            io.Write(RequestPool, request);
            if (!drv.TryAdd(readable, writable, 0)) throw new BenchmarkFailedException("device-memory ring: the ring is full");
            drv.KickPrepare();
            if (!dev.TryPop(out DescriptorChain chain)) throw new BenchmarkFailedException("device-memory ring: the device saw no buffer");
            // As a device serving a remote core copies: through its own memory, never a span into the window.
            chain.Readable[0].Read(0, staged);
            chain.Writable[0].Write(0, staged);
            dev.AddUsed(chain.Head, (uint)payload);
            dev.PublishUsed();
            if (!drv.TryGetUsed(out UsedBuffer used) || used.Length != payload) throw new BenchmarkFailedException("device-memory ring: the reply did not come back");
            io.Read(ReplyPool, reply);
            if (reply[0] != request[0] || reply[^1] != request[^1]) errors++;
        }
        int k = 0;
        Warm(() => One(k++));
        long a0 = GC.GetAllocatedBytesForCurrentThread();
        long t0 = Stopwatch.GetTimestamp();
        for (int i = 0; i < n; i++) One(i);
        double ns = Stopwatch.GetElapsedTime(t0).TotalNanoseconds / n;
        if (device) _deviceRingAllocated = GC.GetAllocatedBytesForCurrentThread() - a0;
        if (errors > 0) throw new BenchmarkFailedException($"device-memory ring: {errors} replies were not their request");
        return ns;
    }

    private void Warm(Action step)
    {
        long t0 = Stopwatch.GetTimestamp();
        do
        {
            for (int i = 0; i < 1000; i++) step();
        }
        while (Stopwatch.GetElapsedTime(t0).TotalSeconds < settings.WarmupSeconds);
    }
}

using System.Text.Json;
using AmpCan.Host.Bench;
using AmpCan.Host.Peers;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Vring;

namespace AmpCan.Tests.Host;

public class BenchTests
{
    /// <summary>Allocates <see cref="Size"/> bytes on the loop thread for each request.</summary>
    private sealed class AllocatingHandler : INotificationHandler
    {
        public const int Size = 1000;
        private int _requests;
        public readonly ManualResetEventSlim Done = new();
        public object? Last;

        public void Request(NotificationLoop loop, int n)
        {
            Done.Reset();
            Interlocked.Exchange(ref _requests, n);
            loop.Wake();
        }

        public bool Process()
        {
            if (Volatile.Read(ref _requests) == 0) return false;
            Last = new byte[Size];
            if (Interlocked.Decrement(ref _requests) == 0) Done.Set();
            return true;
        }

        public bool ArmNotifications() => Volatile.Read(ref _requests) != 0;
        public void DisarmNotifications() { }
    }

    [Test]
    public void AllocationProbeCountsWhatTheLoopThreadAllocatesAndNothingElse()
    {
        using var loop = new NotificationLoop("probe-test", NotificationMode.Doorbell);
        var work = new AllocatingHandler();
        loop.Add(work);
        loop.Start();
        long counted = LoopAllocationProbe.AllocatedDuring([loop], () =>
        {
            work.Request(loop, 10);
            Assert.That(work.Done.Wait(TimeSpan.FromSeconds(10)), Is.True, "the loop did the work");
        });
        Assert.That(counted, Is.GreaterThanOrEqualTo(10 * AllocatingHandler.Size), "ten arrays allocated on the loop thread");
        long elsewhere = LoopAllocationProbe.AllocatedDuring([loop], () => GC.KeepAlive(new byte[100_000]));
        Assert.That(elsewhere, Is.LessThan(100_000), "an allocation on another thread is not the loop's");
    }

    [Test]
    public void TheSinkDeviceCopiesOutAndChecksumsEveryByteOfEveryChain()
    {
        // Chains of one to three readable segments, some longer than the sink's copy buffer, filled with random bytes.
        const ulong Base = 0x4000_0000, Pool = 0x10000;
        const int QueueSize = 64;
        using var region = MappedRegion.CreateMemfd("sink-test", 0x100000, Base);
        var ring = SplitRing.Legacy(region.Io.Slice(0, VringLayout.LegacySize(QueueSize, 4096)), QueueSize, 4096);
        var driver = new SplitVirtqueueDriver(ring, eventIndex: true);
        var device = new SplitVirtqueueDevice(ring, new MemoryMap(region.Io), eventIndex: true, indirectDescriptors: true);
        using var bell = new PollingDoorbell();
        var sink = new VringSinkDevice(device, bell);
        var random = new Random(11);
        var sent = new StreamDigest();
        for (int round = 0; round < 50; round++)
        {
            int chains = random.Next(1, 20);
            for (int c = 0; c < chains; c++)
            {
                int[] lengths = Enumerable.Range(0, random.Next(1, 4)).Select(_ => random.Next(0, 3) == 0 ? random.Next(4097, 9000) : random.Next(1, 600)).ToArray();
                sent = RandomSinkChain.Add(driver, region.Io, Pool + (ulong)c * 0x6000, lengths, c, random, sent);
            }
            driver.KickPrepare();
            while (sink.Process()) { }
            int returned = 0;
            while (driver.TryGetUsed(out UsedBuffer used))
            {
                Assert.That(used.Length, Is.Zero, "the sink writes nothing");
                returned++;
            }
            Assert.That(returned, Is.EqualTo(chains));
        }
        Assert.That(sink.Digest, Is.EqualTo(sent), "the sink received exactly what was sent, in order");
    }

    /// <summary>Echoes only the first 8 bytes of each request, as a device that skips the payload would.</summary>
    private sealed class ShortEchoDevice(SplitVirtqueueDevice queue, Doorbell toDriver) : INotificationHandler
    {
        public bool Process()
        {
            if (!queue.TryPop(out DescriptorChain chain)) return false;
            chain.Readable[0].Slice(0, 8).CopyTo(chain.Writable[0].Slice(0, 8));
            queue.AddUsed(chain.Head, (uint)chain.ReadableBytes);
            if (queue.PublishUsed()) toDriver.Ring();
            return true;
        }

        public bool ArmNotifications() => queue.EnableNotifications();
        public void DisarmNotifications() => queue.DisableNotifications();
    }

    [Test]
    public void TheRoundTripCountsEveryReplyThatIsNotItsWholeRequest()
    {
        using var bed = new VringTestbed();
        var device = new SplitVirtqueueDevice(bed.Ring, bed.Memory, eventIndex: true, indirectDescriptors: true);
        var driver = new SplitVirtqueueDriver(bed.Ring, eventIndex: true, clearRing: false);
        var client = new PingClient(driver, bed.DriverBell, bed, 496);
        bed.StartLoop("device", NotificationMode.Doorbell, new ShortEchoDevice(device, bed.DeviceBell), bed.DeviceBell, cpu: -1);
        NotificationLoop driverLoop = bed.StartLoop("driver", NotificationMode.Doorbell, client, bed.DriverBell, cpu: -1);
        client.Run(driverLoop, 100);
        Assert.That(client.Errors, Is.EqualTo(100), "the right sequence number in front of a stale payload is still a wrong reply");
    }

    /// <summary>Throws on its first pass, as a device whose doorbell failed does.</summary>
    private sealed class FailingHandler : INotificationHandler
    {
        public bool Process() => throw new SharedMemoryException("write to eventfd: Broken pipe");
        public bool ArmNotifications() => false;
        public void DisarmNotifications() { }
    }

    [Test]
    public void ALoopFaultEndsTheRunAtOnceWithItsMessage()
    {
        using var bed = new VringTestbed();
        var driver = new SplitVirtqueueDriver(bed.Ring, eventIndex: true, clearRing: false);
        var client = new PingClient(driver, bed.DriverBell, bed, 16);
        bed.StartLoop("device", NotificationMode.Doorbell, new FailingHandler(), bed.DeviceBell, cpu: -1);
        NotificationLoop driverLoop = bed.StartLoop("driver", NotificationMode.Doorbell, client, bed.DriverBell, cpu: -1);
        Task run = Task.Run(() => client.Run(driverLoop, 100));
        // Without the fault watch the client would wait out its five-minute timeout; a Wait that times out throws nothing.
        var e = Assert.Throws<AggregateException>(() => run.Wait(TimeSpan.FromSeconds(30)))!;
        Assert.That(e.InnerException, Is.TypeOf<BenchmarkFailedException>());
        Assert.That(e.InnerException!.Message, Does.Contain("loop device").And.Contain("Broken pipe"));
    }

    [Test]
    public void TheRpmsgStreamSinkCatchesAGapAndAChangedByte()
    {
        var payloads = new SequencedPayloads(496);
        var sent = new StreamDigest();
        var sink = new RpmsgStreamSink(496, new CaseFaults());
        for (ulong seq = 1; seq <= 100; seq++)
        {
            sink.Receive(payloads.Stamp(seq));
            sent = sent.Add(payloads.Checksum(seq), 496);
        }
        Assert.That(sink.SequenceErrors, Is.Zero);
        Assert.That(sink.Digest, Is.EqualTo(sent), "in order and whole");

        byte[] changed = payloads.Stamp(101).ToArray();
        changed[300] ^= 0x40;
        sink.Receive(changed);
        sent = sent.Add(payloads.Checksum(101), 496);
        Assert.That(sink.SequenceErrors, Is.Zero, "the number was right");
        Assert.That(sink.Digest, Is.Not.EqualTo(sent), "a byte in the middle changed");

        sink.Receive(payloads.Stamp(103));
        Assert.That(sink.SequenceErrors, Is.EqualTo(1));
        Assert.That(sink.FirstError, Does.Contain("message 102").And.Contain("numbered 103"));
        sink.Receive(payloads.Stamp(104));
        Assert.That(sink.SequenceErrors, Is.EqualTo(1), "the count resumes after a gap");
    }

    private static (JsonElement Json, string Table) RunQuick(string bench)
    {
        var (code, output, error) = CommandLineTests.RunWithOutput("bench", bench, "--quick", "--json");
        Assert.That(code, Is.Zero, $"bench {bench} --quick failed:\n{error}");
        return (JsonDocument.Parse(output.TrimEnd().Split('\n')[^1]).RootElement, output);
    }

    /// <summary>Every measured case: the three notification modes by the two payloads.</summary>
    private static IEnumerable<(string Mode, int Payload)> Cases =>
        from mode in new[] { "busypoll", "eventfd", "adaptive" } from payload in new[] { 16, 496 } select (mode, payload);

    private static double Figure(JsonElement json, string key)
    {
        Assert.That(json.TryGetProperty(key, out JsonElement v), Is.True, $"the JSON line lacks {key}");
        return v.GetDouble();
    }

    /// <summary>Busy-poll loops never park; loops woken by eventfd kicks park about once per round trip on each side.</summary>
    private static void AssertParksMatchTheMode(JsonElement json, string key, string mode, string first, string second, string item)
    {
        double a = Figure(json, $"{key}.{first}_parks_per_{item}"), b = Figure(json, $"{key}.{second}_parks_per_{item}");
        if (mode == "busypoll") Assert.That((a, b), Is.EqualTo((0.0, 0.0)), $"{key}: a busy-poll loop parked");
        if (mode == "eventfd" && key.Contains(".rt.", StringComparison.Ordinal))
            Assert.That(Math.Min(a, b), Is.GreaterThan(0.5), $"{key}: a round trip by eventfd kicks that did not park ({first} {a}, {second} {b})");
    }

    // Smoke tests: every case runs, checks its payloads, and reports its figures; the figures themselves are noisy
    // in a short run and are read from the full run in BENCHMARKS.md.
    [Test]
    public void QuickVringBenchReportsEveryFigureWithoutAllocatingPerBuffer()
    {
        var (json, _) = RunQuick("vring");
        Assert.That(Figure(json, "floor.cacheline_rt.median_us"), Is.GreaterThan(0));
        Assert.That(Figure(json, "floor.eventfd_rt.median_us"), Is.GreaterThan(0));
        Assert.That(Figure(json, "vring.adaptive.idle_cpu_percent"), Is.GreaterThanOrEqualTo(0));
        foreach (var (mode, payload) in Cases)
        {
            Assert.That(Figure(json, $"vring.rt.{mode}.{payload}.median_us"), Is.GreaterThan(0));
            Assert.That(Figure(json, $"vring.rt.{mode}.{payload}.vs_floor"), Is.GreaterThan(0));
            Assert.That(Figure(json, $"vring.stream.{mode}.{payload}.buffers_per_s"), Is.GreaterThan(0));
            // Any object costs at least 24 bytes: under one byte per buffer means nothing is allocated per buffer.
            Assert.That(Figure(json, $"vring.rt.{mode}.{payload}.alloc_bytes_per_buffer"), Is.LessThan(1));
            Assert.That(Figure(json, $"vring.stream.{mode}.{payload}.alloc_bytes_per_buffer"), Is.LessThan(1));
            AssertParksMatchTheMode(json, $"vring.rt.{mode}.{payload}", mode, "driver", "device", "buffer");
            AssertParksMatchTheMode(json, $"vring.stream.{mode}.{payload}", mode, "driver", "device", "buffer");
        }
    }

    [Test]
    public void QuickRpmsgBenchReportsEveryFigureWithoutAllocatingPerMessage()
    {
        var (json, table) = RunQuick("rpmsg");
        foreach (var (mode, payload) in Cases)
        {
            Assert.That(Figure(json, $"rpmsg.rt.{mode}.{payload}.median_us"), Is.GreaterThan(0));
            Assert.That(Figure(json, $"vring.rt.{mode}.{payload}.median_us"), Is.GreaterThan(0));
            Assert.That(Figure(json, $"rpmsg.rt.{mode}.{payload}.vs_vring"), Is.GreaterThan(0));
            Assert.That(Figure(json, $"rpmsg.stream.{mode}.{payload}.messages_per_s"), Is.GreaterThan(0));
            Assert.That(Figure(json, $"rpmsg.rt.{mode}.{payload}.alloc_bytes_per_message"), Is.LessThan(1));
            Assert.That(Figure(json, $"rpmsg.stream.{mode}.{payload}.alloc_bytes_per_message"), Is.LessThan(1));
            AssertParksMatchTheMode(json, $"rpmsg.rt.{mode}.{payload}", mode, "host", "remote", "message");
            AssertParksMatchTheMode(json, $"rpmsg.stream.{mode}.{payload}", mode, "host", "remote", "message");
            string row = table.Split('\n').Single(l => l.TrimStart().StartsWith($"rpmsg.stream.{mode}.{payload}.messages_per_s", StringComparison.Ordinal));
            Assert.That(System.Text.RegularExpressions.Regex.IsMatch(row, @"\(runs: [\d.]+, [\d.]+, [\d.]+ M/s\)"), Is.True, $"three runs listed: {row}");
        }
    }

    [Test]
    public void QuickRpmsgCharBenchReportsTheFileTheApiAndTheFloorPinnedAndUnpinnedWithoutAllocating()
    {
        var (json, _) = RunQuick("rpmsg-char");
        foreach (string placement in new[] { "unpinned", "pinned" })
            foreach (int payload in new[] { 16, 496 })
            {
                string key = $"chardev.rt.{placement}.{payload}";
                Assert.That(Figure(json, $"{key}.median_us"), Is.GreaterThan(0));
                Assert.That(Figure(json, $"chardev.api.{placement}.{payload}.median_us"), Is.GreaterThan(0));
                Assert.That(Figure(json, $"chardev.socketpair.{placement}.{payload}.median_us"), Is.GreaterThan(0));
                Assert.That(Figure(json, $"{key}.vs_socketpair"), Is.GreaterThan(1), "a file echo costs more than the bare socketpair it is compared with");
                Assert.That(Figure(json, $"{key}.alloc_bytes_per_message"), Is.LessThan(1));
            }
    }

    [Test]
    public void QuickDeviceMemoryBenchComparesEachCaseOverNormalAndDeviceMemoryWithoutAllocating()
    {
        var (json, _) = RunQuick("device-memory");
        foreach (string key in new[] { "devmem.copy.16", "devmem.copy.496", "devmem.ring.16", "devmem.ring.496", "devmem.fence" })
        {
            Assert.That(Figure(json, $"{key}.normal_ns"), Is.GreaterThan(0), key);
            Assert.That(Figure(json, $"{key}.device_ns"), Is.GreaterThan(0), key);
            Assert.That(Figure(json, $"{key}.device_vs_normal"), Is.EqualTo(Figure(json, $"{key}.device_ns") / Figure(json, $"{key}.normal_ns")).Within(0.1).Percent, key);
        }
        Assert.That(Figure(json, "devmem.copy.496.device_vs_normal"), Is.GreaterThan(2), "496 bytes word by word cost well over one vector copy");
        Assert.That(Figure(json, "devmem.ring.16.device_alloc_bytes_per_rt"), Is.LessThan(1));
        Assert.That(Figure(json, "devmem.ring.496.device_alloc_bytes_per_rt"), Is.LessThan(1));
    }
}

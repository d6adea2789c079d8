using System.Text.Json;
using AmpCan.Host.Bench;
using AmpCan.SharedMem.Doorbells;

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

    private static JsonElement RunQuick(string bench)
    {
        var (code, output, error) = CommandLineTests.RunWithOutput("bench", bench, "--quick", "--json");
        Assert.That(code, Is.Zero, $"bench {bench} --quick failed:\n{error}");
        return JsonDocument.Parse(output.TrimEnd().Split('\n')[^1]).RootElement;
    }

    /// <summary>Every measured case: the three notification modes by the two payloads.</summary>
    private static IEnumerable<(string Mode, int Payload)> Cases =>
        from mode in new[] { "busypoll", "eventfd", "adaptive" } from payload in new[] { 16, 496 } select (mode, payload);

    private static double Figure(JsonElement json, string key)
    {
        Assert.That(json.TryGetProperty(key, out JsonElement v), Is.True, $"the JSON line lacks {key}");
        return v.GetDouble();
    }

    // Smoke tests: every case runs, checks its payloads, and reports its figures; the figures themselves are noisy
    // in a short run and are read from the full run in BENCHMARKS.md.
    [Test]
    public void QuickVringBenchReportsEveryFigureWithoutAllocatingPerBuffer()
    {
        JsonElement json = RunQuick("vring");
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
        }
    }

    [Test]
    public void QuickRpmsgBenchReportsEveryFigureWithoutAllocatingPerMessage()
    {
        JsonElement json = RunQuick("rpmsg");
        foreach (var (mode, payload) in Cases)
        {
            Assert.That(Figure(json, $"rpmsg.rt.{mode}.{payload}.median_us"), Is.GreaterThan(0));
            Assert.That(Figure(json, $"vring.rt.{mode}.{payload}.median_us"), Is.GreaterThan(0));
            Assert.That(Figure(json, $"rpmsg.rt.{mode}.{payload}.vs_vring"), Is.GreaterThan(0));
            Assert.That(Figure(json, $"rpmsg.stream.{mode}.{payload}.messages_per_s"), Is.GreaterThan(0));
            Assert.That(Figure(json, $"rpmsg.rt.{mode}.{payload}.alloc_bytes_per_message"), Is.LessThan(1));
            Assert.That(Figure(json, $"rpmsg.stream.{mode}.{payload}.alloc_bytes_per_message"), Is.LessThan(1));
        }
    }
}

using System.Diagnostics;
using System.Globalization;
using AmpCan.SharedMem;
using AmpCan.Vring;

namespace AmpCan.Tests.ArmProbe;

/// <summary>
/// The guest drives a split ring that lives in the BAR (Device memory), the host test is its device on the /dev/shm file:
/// N round trips, one chain each (a readable request at an odd offset, a writable response buffer at another), polled
/// (ivshmem-plain has no interrupts). Each response is checked byte for byte here, each request on the host.
/// </summary>
internal static class VringDriverCheck
{
    public static int Run(string bdf, int rounds)
    {
        DeviceBar bar = DeviceBar.Of(bdf, 2);
        using MappedRegion mem = MappedRegion.MapPhysical(bar.Start, bar.Size, ArmVmLayout.DeviceBase);
        IoRegion io = mem.Io;
        ulong ringSize = VringLayout.LegacySize(ArmVmLayout.VringSize, ArmVmLayout.VringAlign);
        var ring = SplitRing.Legacy(io.Slice(ArmVmLayout.VringOffset, ringSize), ArmVmLayout.VringSize, ArmVmLayout.VringAlign);
        var driver = new SplitVirtqueueDriver(ring, eventIndex: false, clearRing: true);
        io.WriteU32Release(ArmVmLayout.VringReadyOffset, ArmVmLayout.DriverReady);
        Report.Info($"vring driver ready: {ArmVmLayout.VringSize} entries at 0x{ArmVmLayout.DeviceBase + ArmVmLayout.VringOffset:x} in {mem}");
        using (MappedRegion normal = MappedRegion.CreateMemfd("normal", ArmVmLayout.BarSize))
            Report.Info($"access cost (emulated): {AccessCost(io):F0} ns per aligned 4-byte load of the BAR (Device), {AccessCost(normal.Io):F0} ns of a memfd (Normal)");

        byte[] request = new byte[ArmVmLayout.MaxPayload], response = new byte[ArmVmLayout.MaxPayload], expected = new byte[ArmVmLayout.MaxPayload];
        var times = new double[rounds];
        for (int r = 0; r < rounds; r++)
        {
            int len = ArmVmLayout.PayloadLength(r);
            ulong req = ArmVmLayout.RequestOffset(r), resp = ArmVmLayout.ResponseOffset(r);
            ArmVmLayout.FillRequest(r, request.AsSpan(0, len));
            ArmVmLayout.FillResponse(request.AsSpan(0, len), expected.AsSpan(0, len));
            long t0 = Stopwatch.GetTimestamp();
            io.Write(req, request.AsSpan(0, len));
            // the response buffer is one byte longer than needed: the device must report what it wrote, not the size
            if (!driver.TryAdd([new VirtqBuffer(ArmVmLayout.DeviceBase + req, (uint)len)], [new VirtqBuffer(ArmVmLayout.DeviceBase + resp, (uint)len + 1)], r))
                return Report.Fail("vring", $"no free descriptor for round trip {r}");
            driver.Publish();
            long deadline = Environment.TickCount64 + 20_000;
            UsedBuffer used;
            while (!driver.TryGetUsed(out used))
            {
                if (Environment.TickCount64 > deadline) return Report.Fail("vring", $"round trip {r} (length {len}): no used entry within 20 s");
                Thread.SpinWait(20);
            }
            if (used.Token != r) return Report.Fail("vring", $"round trip {r}: used entry carries token {used.Token}");
            if (used.Length != (uint)len) return Report.Fail("vring", $"round trip {r}: the device wrote {used.Length} bytes, expected {len}");
            io.Read(resp, response.AsSpan(0, len));
            times[r] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
            int bad = response.AsSpan(0, len).CommonPrefixLength(expected.AsSpan(0, len));
            if (bad != len) return Report.Fail("vring", $"round trip {r} (length {len}, response at 0x{resp:x}): byte {bad} is 0x{response[bad]:x2}, expected 0x{expected[bad]:x2}");
        }
        io.WriteU32(ArmVmLayout.VringDoneCountOffset, (uint)rounds);
        io.WriteU32Release(ArmVmLayout.VringDoneCountOffset + 4, ArmVmLayout.DriverDone);
        Array.Sort(times);
        Report.Pass("vring", $"{rounds} round trips, payloads 1..{ArmVmLayout.MaxPayload} bytes at odd offsets, every response byte checked; " +
            $"median_us {times[rounds / 2].ToString("F1", CultureInfo.InvariantCulture)} p90_us {times[rounds * 9 / 10].ToString("F1", CultureInfo.InvariantCulture)}");
        return 0;
    }

    /// <summary>Mean time of one aligned 32-bit load through <paramref name="io"/> (what every ring index and descriptor read costs).</summary>
    private static double AccessCost(IoRegion io)
    {
        const int N = 20_000;
        uint sum = 0;
        for (int i = 0; i < 1000; i++) sum += io.ReadU32(ArmVmLayout.FaultArea + (ulong)(i % 1024) * 4);   // warm (JIT, TLB)
        long t0 = Stopwatch.GetTimestamp();
        for (int i = 0; i < N; i++) sum += io.ReadU32(ArmVmLayout.FaultArea + (ulong)(i % 1024) * 4);
        double ns = Stopwatch.GetElapsedTime(t0).TotalNanoseconds / N;
        GC.KeepAlive(sum);
        return ns;
    }
}

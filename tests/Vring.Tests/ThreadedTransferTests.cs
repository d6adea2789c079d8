using System.IO.Hashing;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Vring;

namespace AmpCan.Tests.Vring;

/// <summary>A driver and a device in two threads over one memfd, each driven by its own notification loop with eventfd kicks.</summary>
public class ThreadedTransferTests
{
    private const int QueueSize = 128, Slots = QueueSize / 2; // two descriptors per chain
    private const ulong Base = 0x7000_0000, ReadPool = 0x10000, WritePool = 0x30000, Slot = 512;

    private sealed class ReversingDevice(SplitVirtqueueDevice q, Doorbell bell) : INotificationHandler
    {
        public readonly XxHash64 Received = new();
        public long Count;

        public bool Process()
        {
            int n = 0;
            while (n < 32 && q.TryPop(out DescriptorChain c))
            {
                Span<byte> src = c.Readable[0].Span, dst = c.Writable[0].Span;
                Received.Append(src);
                for (int i = 0; i < src.Length; i++) dst[i] = src[src.Length - 1 - i];
                q.AddUsed(c.Head, (uint)src.Length);
                n++;
            }
            if (n == 0) return false;
            Count += n;
            if (q.PublishUsed()) bell.Ring();
            return true;
        }

        public bool ArmNotifications() => q.EnableNotifications();
        public void DisarmNotifications() => q.DisableNotifications();
    }

    private sealed class PipelinedDriver(SplitVirtqueueDriver q, Doorbell bell, IoRegion io, long total) : INotificationHandler
    {
        public readonly XxHash64 Sent = new();
        public readonly ManualResetEventSlim Done = new();
        public string? Error;
        public long Completed;
        private readonly Random _rng = new(1234);
        private readonly int[] _len = new int[Slots];
        private readonly Stack<int> _free = new(Enumerable.Range(0, Slots));
        private long _issued;

        public bool Process()
        {
            bool did = false;
            while (q.TryGetUsed(out UsedBuffer u))
            {
                did = true;
                int slot = u.Token, len = _len[slot];
                Span<byte> sent = io.GetSpan(ReadPool + (ulong)slot * Slot, len), echo = io.GetSpan(WritePool + (ulong)slot * Slot, len);
                if (u.Length != len) Error ??= $"slot {slot}: length {u.Length}, expected {len}";
                for (int i = 0; i < len; i++)
                    if (echo[i] != sent[len - 1 - i]) { Error ??= $"slot {slot}: byte {i} differs"; break; }
                _free.Push(slot);
                if (++Completed == total) Done.Set();
            }
            int added = 0;
            while (_free.Count > 0 && _issued < total)
            {
                int slot = _free.Pop();
                int len = _rng.Next(1, 497);
                _len[slot] = len;
                Span<byte> p = io.GetSpan(ReadPool + (ulong)slot * Slot, len);
                _rng.NextBytes(p);
                Sent.Append(p);
                if (!q.TryAdd([new VirtqBuffer(Base + ReadPool + (ulong)slot * Slot, (uint)len)], [new VirtqBuffer(Base + WritePool + (ulong)slot * Slot, (uint)Slot)], slot))
                    Error ??= $"no free descriptors with only {Slots - _free.Count} chains outstanding";
                _issued++;
                added++;
            }
            if (added > 0 && q.KickPrepare()) bell.Ring();
            return did || added > 0;
        }

        public bool ArmNotifications() => q.EnableCallbacks();
        public void DisarmNotifications() => q.DisableCallbacks();
    }

    [TestCase(true, NotificationMode.Adaptive)]
    [TestCase(false, NotificationMode.Doorbell)]
    public void MillionBuffersArriveIntactInOrder(bool eventIndex, NotificationMode mode)
    {
        const long Total = 1_000_000;
        using var region = MappedRegion.CreateMemfd("threaded", 0x100000, Base);
        var memory = new MemoryMap(region.Io);
        var ring = SplitRing.Legacy(region.Io.Slice(0, VringLayout.LegacySize(QueueSize, 4096)), QueueSize, 4096);
        var driverQueue = new SplitVirtqueueDriver(ring, eventIndex);
        var deviceQueue = new SplitVirtqueueDevice(ring, memory, eventIndex, indirectDescriptors: false);
        var (driverBell, deviceBell) = EventFdDoorbell.CreatePair();
        var device = new ReversingDevice(deviceQueue, deviceBell);
        var driver = new PipelinedDriver(driverQueue, driverBell, region.Io, Total);
        Exception? fault = null;
        using var deviceLoop = new NotificationLoop("device", mode, TimeSpan.FromMicroseconds(20));
        using var driverLoop = new NotificationLoop("driver", mode, TimeSpan.FromMicroseconds(20));
        deviceLoop.HandlerFaulted += (_, e) => fault = e;
        driverLoop.HandlerFaulted += (_, e) => fault = e;
        deviceLoop.Add(device, deviceBell);
        driverLoop.Add(driver, driverBell);
        deviceLoop.Start();
        driverLoop.Start();

        bool done = driver.Done.Wait(TimeSpan.FromMinutes(3));
        driverLoop.Stop();
        deviceLoop.Stop();
        Assert.Multiple(() =>
        {
            Assert.That(fault, Is.Null);
            Assert.That(done, Is.True, $"stalled after {driver.Completed} buffers (a lost wake-up?)");
            Assert.That(driver.Error, Is.Null);
            Assert.That(device.Count, Is.EqualTo(Total));
            Assert.That(device.Received.GetCurrentHashAsUInt64(), Is.EqualTo(driver.Sent.GetCurrentHashAsUInt64()), "the device saw exactly the bytes the driver sent, in order");
        });
        driverBell.Dispose();
        deviceBell.Dispose();
    }
}

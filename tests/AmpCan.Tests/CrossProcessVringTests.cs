using System.IO.Hashing;
using AmpCan.Host.Peers;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Vring;

namespace AmpCan.Tests.Host;

/// <summary>The device runs in another process (<c>ampcan vring-peer</c>) that only shares the memfd and two eventfds.</summary>
public class CrossProcessVringTests
{
    internal static string AmpcanDll => Path.Combine(TestContext.CurrentContext.TestDirectory, "ampcan.dll");

    [TestCase(NotificationMode.Doorbell, true)]
    [TestCase(NotificationMode.Adaptive, false)]
    public void BuffersEchoedByAnotherProcessArriveIntact(NotificationMode mode, bool eventIndex)
    {
        const int QueueSize = 64, Slots = 32, Total = 1_000_000; // as many as the two-thread test, each with a checksum
        const ulong Base = 0x9000_0000, ReadPool = 0x10000, WritePool = 0x20000, Slot = 512;
        using var region = MappedRegion.CreateMemfd("xproc", 0x40000, Base);
        var ring = SplitRing.Legacy(region.Io.Slice(0, VringLayout.LegacySize(QueueSize, 4096)), QueueSize, 4096);
        var driver = new SplitVirtqueueDriver(ring, eventIndex);
        var (ours, theirs) = EventFdDoorbell.CreatePair();
        using var peer = VringPeerProcess.Start(AmpcanDll,
            new VringPeerParameters(0x40000, Base, 0, QueueSize, 4096, eventIndex, mode, "echo"), region, theirs, TimeSpan.FromSeconds(60));
        theirs.Dispose(); // the peer holds its own copies now

        var sent = new XxHash64();
        var echoed = new XxHash64();
        var rng = new Random(7);
        var len = new int[Slots];
        var free = new Stack<int>(Enumerable.Range(0, Slots));
        long issued = 0, completed = 0;
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
        while (completed < Total && DateTime.UtcNow < deadline)
        {
            while (driver.TryGetUsed(out UsedBuffer u))
            {
                int s = u.Token;
                Assert.That(u.Length, Is.EqualTo((uint)len[s]));
                echoed.Append(region.Io.GetSpan(WritePool + (ulong)s * Slot, len[s]));
                free.Push(s);
                completed++;
            }
            int added = 0;
            while (free.Count > 0 && issued < Total)
            {
                int s = free.Pop();
                len[s] = rng.Next(1, 497);
                Span<byte> p = region.Io.GetSpan(ReadPool + (ulong)s * Slot, len[s]);
                rng.NextBytes(p);
                sent.Append(p);
                Assert.That(driver.TryAdd([new VirtqBuffer(Base + ReadPool + (ulong)s * Slot, (uint)len[s])], [new VirtqBuffer(Base + WritePool + (ulong)s * Slot, (uint)Slot)], s), Is.True);
                issued++;
                added++;
            }
            if (added > 0 && driver.KickPrepare()) ours.Ring();
            if (completed < Total && !driver.EnableCallbacks()) ours.Wait(TimeSpan.FromSeconds(5));
        }

        VringPeerReport report = peer.Stop(TimeSpan.FromSeconds(30));
        Assert.Multiple(() =>
        {
            Assert.That(completed, Is.EqualTo(Total), "every buffer came back");
            Assert.That(report.Chains, Is.EqualTo(Total), "the peer echoed every chain");
            Assert.That(peer.ExitCode, Is.Zero);
            Assert.That(echoed.GetCurrentHashAsUInt64(), Is.EqualTo(sent.GetCurrentHashAsUInt64()), "the echoed bytes equal the sent bytes, in order");
        });
        ours.Dispose();
    }

    [Test]
    public void HostilePeerCostsOnlyItsQueue()
    {
        // The peer's device side must survive a driver that writes garbage: it reports a fault and exits non-zero.
        const ulong Base = 0x9000_0000;
        using var region = MappedRegion.CreateMemfd("xproc-hostile", 0x40000, Base);
        var ring = SplitRing.Legacy(region.Io.Slice(0, VringLayout.LegacySize(16, 4096)), 16, 4096);
        ring.Clear();
        var (ours, theirs) = EventFdDoorbell.CreatePair();
        using var peer = VringPeerProcess.Start(AmpcanDll,
            new VringPeerParameters(0x40000, Base, 0, 16, 4096, false, NotificationMode.Doorbell, "echo"), region, theirs, TimeSpan.FromSeconds(60));
        theirs.Dispose();
        ring.Descriptors.Write(0, new AmpCan.Vring.Wire.VirtqDescriptor(0xDEAD_0000_0000, 64, 0, 0)); // outside the map
        ring.Available.WriteU16(4, 0);
        ring.Available.WriteU16Release(2, 1);
        ours.Ring();
        // Nothing comes back and the peer stays alive until told to stop.
        Assert.That(ours.Wait(TimeSpan.FromMilliseconds(300)), Is.False);
        VringPeerReport report = peer.Stop(TimeSpan.FromSeconds(30));
        Assert.That(report.Chains, Is.Zero);
        Assert.That(peer.ExitCode, Is.EqualTo(3), "the peer reports the queue fault in its exit code");
        Assert.That(ring.Used.ReadU16(2), Is.Zero, "the bad chain was never marked used");
        ours.Dispose();
    }
}

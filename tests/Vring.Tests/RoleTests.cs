using AmpCan.SharedMem;
using AmpCan.Vring;
using AmpCan.Vring.Wire;

namespace AmpCan.Tests.Vring;

public class RoleTests
{
    [Test]
    public void ChainTravelsFromDriverToDeviceAndBack()
    {
        using var f = new RingFixture(size: 8);
        var driver = new SplitVirtqueueDriver(f.Ring, eventIndex: false);
        var device = f.Device();
        f.Region.Io.Write(0x10000, "request"u8);
        Assert.That(driver.TryAdd([new VirtqBuffer(f.Buffer(0), 7)], [new VirtqBuffer(f.Buffer(1), 64), new VirtqBuffer(f.Buffer(2), 64)], token: 42), Is.True);
        Assert.That(device.TryPop(out _), Is.False, "nothing is visible before publish");
        Assert.That(driver.KickPrepare(), Is.True, "device has not set NO_NOTIFY");

        Assert.That(device.TryPop(out DescriptorChain chain), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(chain.Count, Is.EqualTo(3));
            Assert.That(chain.ReadableCount, Is.EqualTo(1));
            Assert.That(chain.ReadableBytes, Is.EqualTo(7UL));
            Assert.That(chain.WritableBytes, Is.EqualTo(128UL));
            Assert.That(chain.Readable[0].Span.ToArray(), Is.EqualTo("request"u8.ToArray()));
            Assert.That(chain.Writable[1].DeviceAddress, Is.EqualTo(f.Buffer(2)));
        });
        "response"u8.CopyTo(chain.Writable[0].Span);
        device.AddUsed(chain.Head, 8);
        Assert.That(driver.TryGetUsed(out _), Is.False, "nothing is visible before publish");
        Assert.That(device.PublishUsed(), Is.True);
        Assert.That(driver.TryGetUsed(out UsedBuffer used), Is.True);
        Assert.That(used, Is.EqualTo(new UsedBuffer(42, chain.Head, 8)));
        Assert.That(f.Region.Io.GetSpan(0x10200, 8).ToArray(), Is.EqualTo("response"u8.ToArray()));
        Assert.That(driver.FreeDescriptors, Is.EqualTo(8));
    }

    [Test]
    public void DriverRunsOutOfDescriptorsAndRecoversThemWhenUsed()
    {
        using var f = new RingFixture(size: 4);
        var driver = new SplitVirtqueueDriver(f.Ring, eventIndex: false);
        var device = f.Device();
        for (int i = 0; i < 4; i++) Assert.That(driver.TryAdd(new VirtqBuffer(f.Buffer(i), 16), false, i), Is.True);
        Assert.That(driver.TryAdd(new VirtqBuffer(f.Buffer(5), 16), false, 5), Is.False);
        Assert.That(driver.TryAdd([new VirtqBuffer(f.Buffer(5), 16)], [], 5), Is.False);
        driver.KickPrepare();
        for (int i = 0; i < 4; i++)
        {
            Assert.That(device.TryPop(out DescriptorChain c), Is.True);
            device.AddUsed(c.Head, 0);
        }
        device.PublishUsed();
        var tokens = new List<int>();
        while (driver.TryGetUsed(out UsedBuffer u)) tokens.Add(u.Token);
        Assert.That(tokens, Is.EqualTo(new[] { 0, 1, 2, 3 }));
        Assert.That(driver.TryAdd([new VirtqBuffer(f.Buffer(0), 1)], [new VirtqBuffer(f.Buffer(1), 1), new VirtqBuffer(f.Buffer(2), 1), new VirtqBuffer(f.Buffer(3), 1)], 9), Is.True);
    }

    [Test]
    public void UsedLengthIsClampedToTheWritableSize()
    {
        using var f = new RingFixture(size: 4);
        var driver = new SplitVirtqueueDriver(f.Ring, eventIndex: false);
        driver.TryAdd(new VirtqBuffer(f.Buffer(0), 16), deviceWritable: false, 1);
        driver.TryAdd(new VirtqBuffer(f.Buffer(1), 32), deviceWritable: true, 2);
        driver.KickPrepare();
        f.Used(2, (0, 512), (1, 512)); // OpenAMP reports the whole buffer size even for a readable one
        Assert.That(driver.TryGetUsed(out UsedBuffer a), Is.True);
        Assert.That(driver.TryGetUsed(out UsedBuffer b), Is.True);
        Assert.That((a.Length, b.Length), Is.EqualTo((0u, 32u)));
    }

    [Test]
    public void IndirectTablesCarryAChainInOneDescriptor()
    {
        using var f = new RingFixture(size: 4);
        var driver = new SplitVirtqueueDriver(f.Ring, eventIndex: false);
        driver.UseIndirectTables(f.Region.Io.Slice(0x8000, 4 * 4 * 16), entriesPerChain: 4);
        var device = f.Device(indirect: true);
        for (int i = 0; i < 4; i++)
            Assert.That(driver.TryAdd([new VirtqBuffer(f.Buffer(3 * i), 8), new VirtqBuffer(f.Buffer(3 * i + 1), 8)], [new VirtqBuffer(f.Buffer(3 * i + 2), 8)], i), Is.True);
        Assert.That(driver.FreeDescriptors, Is.Zero, "each 3-buffer chain used one descriptor");
        driver.KickPrepare();
        VirtqDescriptor head = f.Ring.Descriptors.Read<VirtqDescriptor>(0);
        Assert.That(head.Flags, Is.EqualTo(VirtqDescFlags.Indirect));
        Assert.That(head.Length, Is.EqualTo(48u));
        for (int i = 0; i < 4; i++)
        {
            Assert.That(device.TryPop(out DescriptorChain c), Is.True);
            Assert.That((c.Count, c.ReadableCount), Is.EqualTo((3, 2)));
            Assert.That(c.Writable[0].DeviceAddress, Is.EqualTo(f.Buffer(3 * i + 2)));
            device.AddUsed(c.Head, 8);
        }
        device.PublishUsed();
        for (int i = 0; i < 4; i++) Assert.That(driver.TryGetUsed(out UsedBuffer u) && u.Token == i && u.Length == 8, Is.True);
    }

    [Test]
    public void DirectDescriptorsMayPrecedeAnIndirectOne()
    {
        using var f = new RingFixture(size: 4);
        f.Region.Io.Write(0x9000, new byte[32]);
        f.Region.Io.Write(0x9000, Bytes(new VirtqDescriptor(f.Buffer(1), 4, VirtqDescFlags.Next, 1), new VirtqDescriptor(f.Buffer(2), 4, VirtqDescFlags.Write, 0)));
        f.Desc(0, f.Buffer(0), 4, VirtqDescFlags.Next, 1);
        f.Desc(1, RingFixture.Base + 0x9000, 32, VirtqDescFlags.Indirect);
        f.Offer(1, 0);
        var device = f.Device(indirect: true);
        Assert.That(device.TryPop(out DescriptorChain c), Is.True);
        Assert.That(c.Segments.ToArray().Select(s => s.DeviceAddress), Is.EqualTo(new[] { f.Buffer(0), f.Buffer(1), f.Buffer(2) }));
    }

    [Test]
    public void NotificationSuppressionWithoutEventIndex()
    {
        using var f = new RingFixture(size: 4);
        var driver = new SplitVirtqueueDriver(f.Ring, eventIndex: false);
        var device = f.Device();
        device.DisableNotifications();
        driver.TryAdd(new VirtqBuffer(f.Buffer(0), 8), false, 0);
        Assert.That(driver.KickPrepare(), Is.False, "NO_NOTIFY suppresses the kick");
        Assert.That(device.EnableNotifications(), Is.True, "a chain is already waiting");
        driver.TryAdd(new VirtqBuffer(f.Buffer(1), 8), false, 1);
        Assert.That(driver.KickPrepare(), Is.True);

        driver.DisableCallbacks();
        device.TryPop(out DescriptorChain c);
        device.AddUsed(c.Head, 0);
        Assert.That(device.PublishUsed(), Is.False, "NO_INTERRUPT suppresses the interrupt");
        Assert.That(driver.EnableCallbacks(), Is.True, "a used chain is already waiting");
        device.TryPop(out c);
        device.AddUsed(c.Head, 0);
        Assert.That(device.PublishUsed(), Is.True);
    }

    [Test]
    public void NotificationSuppressionWithEventIndex()
    {
        using var f = new RingFixture(size: 8);
        var driver = new SplitVirtqueueDriver(f.Ring, eventIndex: true);
        var device = f.Device(eventIdx: true);
        Assert.That(device.EnableNotifications(), Is.False); // avail_event = 0
        driver.TryAdd(new VirtqBuffer(f.Buffer(0), 8), false, 0);
        Assert.That(driver.KickPrepare(), Is.True, "index 0 -> 1 crosses avail_event 0");
        driver.TryAdd(new VirtqBuffer(f.Buffer(1), 8), false, 1);
        Assert.That(driver.KickPrepare(), Is.False, "the device has not asked again");
        Assert.That(f.Ring.Available.ReadU16(SplitRingOffsets.Flags), Is.Zero, "with EVENT_IDX the driver keeps flags at 0");
        device.TryPop(out DescriptorChain c0);
        device.TryPop(out DescriptorChain c1);
        Assert.That(device.EnableNotifications(), Is.False); // avail_event = 2
        driver.TryAdd(new VirtqBuffer(f.Buffer(2), 8), false, 2);
        driver.TryAdd(new VirtqBuffer(f.Buffer(3), 8), false, 3);
        Assert.That(driver.KickPrepare(), Is.True, "index 2 -> 4 crosses avail_event 2");

        Assert.That(driver.EnableCallbacks(), Is.False); // used_event = 0
        device.AddUsed(c0.Head, 0);
        Assert.That(device.PublishUsed(), Is.True);
        device.AddUsed(c1.Head, 0);
        Assert.That(device.PublishUsed(), Is.False, "used_event 0 was already passed");
        driver.DisableCallbacks();
        Assert.That(driver.TryGetUsed(out _) && driver.TryGetUsed(out _), Is.True);
        device.TryPop(out DescriptorChain c2);
        device.AddUsed(c2.Head, 0);
        Assert.That(device.PublishUsed(), Is.False, "callbacks disabled");
        Assert.That(driver.EnableCallbacks(), Is.True, "one used chain waits");
    }

    [Test]
    public void DriverKicksAfter0xFFFFAdditionsWithoutAKickDecision()
    {
        // A driver that only publishes (the device polls) for 65536 chains brings its available index back where it was:
        // the event-index test then sees no progress, and the device, which asked to be kicked, never would be.
        using var f = new RingFixture(size: 4);
        var driver = new SplitVirtqueueDriver(f.Ring, eventIndex: true);
        var device = f.Device(eventIdx: true);
        Assert.That(device.EnableNotifications(), Is.False); // avail_event = 0
        for (int i = 0; i < 0x10000; i++)
        {
            Assert.That(driver.TryAdd(new VirtqBuffer(f.Buffer(0), 8), false, i), Is.True);
            driver.Publish();
            Assert.That(device.TryPop(out DescriptorChain c), Is.True);
            device.AddUsed(c.Head, 0);
            device.PublishUsed();
            Assert.That(driver.TryGetUsed(out _), Is.True);
        }
        Assert.That(f.Ring.Available.ReadU16(SplitRingOffsets.Index), Is.Zero, "the index wrapped back to where the last decision left it");
        Assert.That(driver.KickPrepare(), Is.True, "more than 0xFFFF additions since the last decision always kick");
        Assert.That(driver.KickPrepare(), Is.False, "and the decision is remembered");
    }

    [Test]
    public void CollectingAUsedChainMovesUsedEventWhileCallbacksAreOn()
    {
        using var f = new RingFixture(size: 4);
        var driver = new SplitVirtqueueDriver(f.Ring, eventIndex: true);
        var device = f.Device(eventIdx: true);
        driver.TryAdd(new VirtqBuffer(f.Buffer(0), 8), false, 0);
        driver.TryAdd(new VirtqBuffer(f.Buffer(1), 8), false, 1);
        driver.KickPrepare();
        Assert.That(driver.EnableCallbacks(), Is.False);
        for (int i = 0; i < 2; i++)
        {
            device.TryPop(out DescriptorChain c);
            device.AddUsed(c.Head, 0);
        }
        device.PublishUsed();
        Assert.That(driver.TryGetUsed(out _), Is.True);
        Assert.That(f.Ring.Available.ReadU16(SplitRingOffsets.UsedEvent(4)), Is.EqualTo(1), "used_event asks for the next used chain");
        driver.DisableCallbacks();
        Assert.That(driver.TryGetUsed(out _), Is.True);
        Assert.That(f.Ring.Available.ReadU16(SplitRingOffsets.UsedEvent(4)), Is.Not.EqualTo(2), "disabled callbacks leave used_event parked away");
    }

    [Test]
    public void BothRolesAttachToARingThatAlreadyHoldsState()
    {
        using var f = new RingFixture(size: 4);
        // A previous session left avail.idx = used.idx = 65534 and then offered two chains, one of which was used.
        var first = new SplitVirtqueueDriver(f.Ring, eventIndex: false);
        f.Ring.Available.WriteU16(SplitRingOffsets.Index, 65534);
        f.Ring.Used.WriteU16(SplitRingOffsets.Index, 65534);
        var driver = new SplitVirtqueueDriver(f.Ring, eventIndex: false, clearRing: false);
        var device = f.Device();
        Assert.That(device.State, Is.EqualTo(new DeviceQueueState(65534, 65534)));

        for (int i = 0; i < 3; i++) driver.TryAdd(new VirtqBuffer(f.Buffer(i), 8), false, 100 + i);
        driver.KickPrepare();
        Assert.That(f.Ring.Available.ReadU16(SplitRingOffsets.Index), Is.EqualTo(1), "index wraps through 65535");
        device.TryPop(out DescriptorChain c);
        device.AddUsed(c.Head, 0);
        device.PublishUsed();

        // Both sides restart and re-attach to the live ring.
        var driver2 = new SplitVirtqueueDriver(f.Ring, eventIndex: false, clearRing: false);
        var device2 = f.Device();
        Assert.That(device2.State, Is.EqualTo(new DeviceQueueState(65535, 65535)));
        Assert.That(driver2.Outstanding, Is.EqualTo(2), "chains between the used and available indices are outstanding");
        Assert.That(driver2.FreeDescriptors, Is.EqualTo(2), "the already-used chain's descriptor is free again");
        Assert.That(driver2.TryGetUsed(out _), Is.False, "entries before the used index count as collected");
        var heads = new List<ushort>();
        while (device2.TryPop(out DescriptorChain d)) { heads.Add(d.Head); device2.AddUsed(d.Head, 0); }
        device2.PublishUsed();
        Assert.That(heads, Has.Count.EqualTo(2));
        Assert.That(driver2.TryGetUsed(out _) && driver2.TryGetUsed(out _), Is.True);
        Assert.That(driver2.FreeDescriptors, Is.EqualTo(4));
        GC.KeepAlive(first);
    }

    [Test]
    public void ReattachedIndirectChainKeepsItsWritableSize()
    {
        using var f = new RingFixture(size: 4);
        IoRegion tables = f.Region.Io.Slice(0x8000, 4 * 4 * 16);
        var first = new SplitVirtqueueDriver(f.Ring, eventIndex: false);
        first.UseIndirectTables(tables, entriesPerChain: 4);
        Assert.That(first.TryAdd([new VirtqBuffer(f.Buffer(0), 8)], [new VirtqBuffer(f.Buffer(1), 24), new VirtqBuffer(f.Buffer(2), 40)], 7), Is.True);
        first.KickPrepare();

        // The driver restarts while the chain is out, then learns its tables again.
        var driver = new SplitVirtqueueDriver(f.Ring, eventIndex: false, clearRing: false);
        driver.UseIndirectTables(tables, entriesPerChain: 4);
        var device = f.Device(indirect: true);
        Assert.That(device.TryPop(out DescriptorChain c), Is.True);
        device.AddUsed(c.Head, 5000); // a device claiming more than the chain can hold
        device.PublishUsed();
        Assert.That(driver.TryGetUsed(out UsedBuffer u), Is.True);
        Assert.That(u.Length, Is.EqualTo(64u), "clamped to the 24 + 40 writable bytes read back from the indirect table");
    }

    [Test]
    public void RingOutsideTheMapIsRefused()
    {
        using var f = new RingFixture();
        var e = Assert.Throws<ArgumentException>(() => SplitRing.Legacy(f.Memory, RingFixture.Base + 0x3F000, 256, 4096));
        Assert.That(e!.Message, Does.Contain("0x4003f000"));
        var unaligned = Assert.Throws<ArgumentException>(() => SplitRing.Legacy(f.Memory, RingFixture.Base + 0x10, 16, 4096))!;
        Assert.That(unaligned.Message, Does.Contain("0x40000010").And.Contain("not aligned"));
        Assert.Throws<ArgumentException>(() => SplitRing.Separate(f.Memory, 8, RingFixture.Base + 8, RingFixture.Base + 0x1000, RingFixture.Base + 0x2000));
    }

    [Test]
    public void SeparatelyPlacedAreasWork()
    {
        using var f = new RingFixture();
        var ring = SplitRing.Separate(f.Memory, 8, RingFixture.Base + 0x3000, RingFixture.Base + 0x5002, RingFixture.Base + 0x7004);
        var driver = new SplitVirtqueueDriver(ring, eventIndex: true);
        var device = new SplitVirtqueueDevice(ring, f.Memory, eventIndex: true, indirectDescriptors: false);
        driver.TryAdd(new VirtqBuffer(f.Buffer(0), 8), true, 5);
        driver.KickPrepare();
        Assert.That(f.Region.Io.ReadU16(0x5002 + 2), Is.EqualTo(1), "available index lands in the separate area");
        device.TryPop(out DescriptorChain c);
        device.AddUsed(c.Head, 3);
        device.PublishUsed();
        Assert.That(driver.TryGetUsed(out UsedBuffer u) && u.Token == 5 && u.Length == 3, Is.True);
    }

    internal static byte[] Bytes(params VirtqDescriptor[] descs)
    {
        byte[] b = new byte[descs.Length * 16];
        for (int i = 0; i < descs.Length; i++) descs[i].Write(b.AsSpan(i * 16));
        return b;
    }
}

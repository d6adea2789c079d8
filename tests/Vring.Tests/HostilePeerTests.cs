using AmpCan.Vring;
using AmpCan.Vring.Wire;

namespace AmpCan.Tests.Vring;

/// <summary>A mock peer writes raw ring memory; each case breaks one rule and must raise exactly its typed error.</summary>
public class HostilePeerTests
{
    private static VirtqueueError DevicePopError(RingFixture f, bool indirect = false)
    {
        var device = f.Device(indirect: indirect);
        var e = Assert.Throws<VirtqueueException>(() => device.TryPop(out _))!;
        // The queue stays broken with the same error.
        var again = Assert.Throws<VirtqueueException>(() => device.TryPop(out _))!;
        Assert.That(again.Error, Is.EqualTo(e.Error));
        Assert.That(device.Fault, Is.Not.Null);
        return e.Error;
    }

    [Test]
    public void AvailIndexRunningAheadByMoreThanTheQueue()
    {
        using var f = new RingFixture(size: 8);
        f.Ring.Available.WriteU16(SplitRingOffsets.Index, 9);
        Assert.That(DevicePopError(f), Is.EqualTo(VirtqueueError.AvailIndexOutOfRange));
    }

    [Test]
    public void AvailIndexRunningAheadByExactlyTheQueueIsFine()
    {
        using var f = new RingFixture(size: 4);
        for (ushort i = 0; i < 4; i++) f.Desc(i, f.Buffer(i), 8);
        f.Offer(4, 0, 1, 2, 3);
        var device = f.Device();
        int n = 0;
        while (device.TryPop(out _)) n++;
        Assert.That(n, Is.EqualTo(4));
    }

    [Test]
    public void HeadBeyondTheQueue()
    {
        using var f = new RingFixture(size: 8);
        f.Offer(1, 8);
        Assert.That(DevicePopError(f), Is.EqualTo(VirtqueueError.DescriptorIndexOutOfRange));
    }

    [Test]
    public void NextBeyondTheQueue()
    {
        using var f = new RingFixture(size: 8);
        f.Desc(0, f.Buffer(0), 8, VirtqDescFlags.Next, 200);
        f.Offer(1, 0);
        Assert.That(DevicePopError(f), Is.EqualTo(VirtqueueError.DescriptorIndexOutOfRange));
    }

    [Test]
    public void LoopingChain()
    {
        using var f = new RingFixture(size: 8);
        f.Desc(0, f.Buffer(0), 8, VirtqDescFlags.Next, 1);
        f.Desc(1, f.Buffer(1), 8, VirtqDescFlags.Next, 0);
        f.Offer(1, 0);
        Assert.That(DevicePopError(f), Is.EqualTo(VirtqueueError.DescriptorChainTooLong));
    }

    [Test]
    public void SelfLoopingDescriptor()
    {
        using var f = new RingFixture(size: 8);
        f.Desc(3, f.Buffer(0), 8, VirtqDescFlags.Next, 3);
        f.Offer(1, 3);
        Assert.That(DevicePopError(f), Is.EqualTo(VirtqueueError.DescriptorChainTooLong));
    }

    [Test]
    public void HeadOfferedTwiceWhileInFlight()
    {
        using var f = new RingFixture(size: 8);
        f.Desc(0, f.Buffer(0), 8);
        f.Offer(2, 0, 0);
        var device = f.Device();
        Assert.That(device.TryPop(out _), Is.True);
        Assert.That(Assert.Throws<VirtqueueException>(() => device.TryPop(out _))!.Error, Is.EqualTo(VirtqueueError.HeadAlreadyInFlight));
    }

    [Test]
    public void IndirectWithoutNegotiation()
    {
        using var f = new RingFixture(size: 8);
        f.Desc(0, f.Buffer(0), 32, VirtqDescFlags.Indirect);
        f.Offer(1, 0);
        Assert.That(DevicePopError(f, indirect: false), Is.EqualTo(VirtqueueError.IndirectNotNegotiated));
    }

    [Test]
    public void IndirectTogetherWithNext()
    {
        using var f = new RingFixture(size: 8);
        f.Desc(0, f.Buffer(0), 32, VirtqDescFlags.Indirect | VirtqDescFlags.Next, 1);
        f.Desc(1, f.Buffer(1), 8);
        f.Offer(1, 0);
        Assert.That(DevicePopError(f, indirect: true), Is.EqualTo(VirtqueueError.IndirectWithNext));
    }

    [TestCase(0u)]
    [TestCase(24u)]
    [TestCase(16u * 9)]
    public void IndirectTableOfBadLength(uint len)
    {
        using var f = new RingFixture(size: 8);
        f.Desc(0, f.Buffer(0), len, VirtqDescFlags.Indirect);
        f.Offer(1, 0);
        Assert.That(DevicePopError(f, indirect: true), Is.EqualTo(VirtqueueError.InvalidIndirectTable));
    }

    [Test]
    public void NestedIndirectTable()
    {
        using var f = new RingFixture(size: 8);
        f.Region.Io.Write(0x9000, RoleTests.Bytes(new VirtqDescriptor(RingFixture.Base + 0x9000, 16, VirtqDescFlags.Indirect, 0)));
        f.Desc(0, RingFixture.Base + 0x9000, 16, VirtqDescFlags.Indirect);
        f.Offer(1, 0);
        Assert.That(DevicePopError(f, indirect: true), Is.EqualTo(VirtqueueError.NestedIndirectTable));
    }

    [Test]
    public void LoopInsideAnIndirectTable()
    {
        using var f = new RingFixture(size: 8);
        f.Region.Io.Write(0x9000, RoleTests.Bytes(
            new VirtqDescriptor(f.Buffer(0), 8, VirtqDescFlags.Next, 1),
            new VirtqDescriptor(f.Buffer(1), 8, VirtqDescFlags.Next, 0)));
        f.Desc(0, RingFixture.Base + 0x9000, 32, VirtqDescFlags.Indirect);
        f.Offer(1, 0);
        Assert.That(DevicePopError(f, indirect: true), Is.EqualTo(VirtqueueError.DescriptorChainTooLong));
    }

    [Test]
    public void IndirectNextBeyondTheTable()
    {
        using var f = new RingFixture(size: 8);
        f.Region.Io.Write(0x9000, RoleTests.Bytes(new VirtqDescriptor(f.Buffer(0), 8, VirtqDescFlags.Next, 2), new VirtqDescriptor(f.Buffer(1), 8, 0, 0)));
        f.Desc(0, RingFixture.Base + 0x9000, 32, VirtqDescFlags.Indirect);
        f.Offer(1, 0);
        Assert.That(DevicePopError(f, indirect: true), Is.EqualTo(VirtqueueError.DescriptorIndexOutOfRange));
    }

    [Test]
    public void IndirectTableOutsideTheMap()
    {
        using var f = new RingFixture(size: 8);
        f.Desc(0, 0x1000, 32, VirtqDescFlags.Indirect);
        f.Offer(1, 0);
        Assert.That(DevicePopError(f, indirect: true), Is.EqualTo(VirtqueueError.AddressOutOfMap));
    }

    [Test]
    public void AddressPlusLengthWraps()
    {
        using var f = new RingFixture(size: 8);
        f.Desc(0, ulong.MaxValue - 4, 8);
        f.Offer(1, 0);
        Assert.That(DevicePopError(f), Is.EqualTo(VirtqueueError.LengthOverflow));
    }

    [Test]
    public void ChainTotalling4GiB()
    {
        // A sparse 2 GiB memfd: three descriptors over the same mapped bytes, each valid alone, totalling over 2^32.
        using var big = AmpCan.SharedMem.MappedRegion.CreateMemfd("big", 0x8000_1000, 0x1_0000_0000);
        using var f = new RingFixture(size: 8);
        f.Memory.Add(big.Io);
        f.Desc(0, 0x1_0000_0000, 0x7FFF_F000, VirtqDescFlags.Next, 1);
        f.Desc(1, 0x1_0000_1000, 0x7FFF_F000, VirtqDescFlags.Next, 2);
        f.Desc(2, 0x1_0000_2000, 0x7FFF_F000);
        f.Offer(1, 0);
        Assert.That(DevicePopError(f), Is.EqualTo(VirtqueueError.LengthOverflow));
    }

    [Test]
    public void SingleBufferOf2GiBOrMore()
    {
        // Inside the map, but too large for any span over it: refused as a typed error, not an overflow later.
        using var big = AmpCan.SharedMem.MappedRegion.CreateMemfd("big", 0x8000_1000, 0x1_0000_0000);
        using var f = new RingFixture(size: 8);
        f.Memory.Add(big.Io);
        f.Desc(0, 0x1_0000_0000, 0x8000_0000);
        f.Offer(1, 0);
        Assert.That(DevicePopError(f), Is.EqualTo(VirtqueueError.LengthOverflow));
    }

    [Test]
    public void DirectDescriptorsAndAFullIndirectTableExceedTheQueue()
    {
        // Three direct descriptors, then an indirect table as large as the queue: 3 + 8 buffers in a queue of 8.
        using var f = new RingFixture(size: 8);
        var table = new byte[8 * 16];
        for (int i = 0; i < 8; i++)
            new VirtqDescriptor(f.Buffer(3 + i), 4, i < 7 ? VirtqDescFlags.Next : 0, (ushort)(i + 1)).Write(table.AsSpan(i * 16));
        f.Region.Io.Write(0x9000, table);
        f.Desc(0, f.Buffer(0), 4, VirtqDescFlags.Next, 1);
        f.Desc(1, f.Buffer(1), 4, VirtqDescFlags.Next, 2);
        f.Desc(2, f.Buffer(2), 4, VirtqDescFlags.Next, 3);
        f.Desc(3, RingFixture.Base + 0x9000, 8 * 16, VirtqDescFlags.Indirect);
        f.Offer(1, 0);
        Assert.That(DevicePopError(f, indirect: true), Is.EqualTo(VirtqueueError.DescriptorChainTooLong));
    }

    [Test]
    public void ReadableAfterWritable()
    {
        using var f = new RingFixture(size: 8);
        f.Desc(0, f.Buffer(0), 8, VirtqDescFlags.Write | VirtqDescFlags.Next, 1);
        f.Desc(1, f.Buffer(1), 8);
        f.Offer(1, 0);
        Assert.That(DevicePopError(f), Is.EqualTo(VirtqueueError.ReadableAfterWritable));
    }

    [TestCase(0x1000UL, 8u, Description = "below the carveout")]
    [TestCase(RingFixture.Base + 0x3FFF8, 16u, Description = "runs past the end")]
    [TestCase(RingFixture.Base + 0x40000, 0u, Description = "zero length just past the end")]
    public void BufferOutsideTheMap(ulong addr, uint len)
    {
        using var f = new RingFixture(size: 8);
        f.Desc(0, addr, len);
        f.Offer(1, 0);
        Assert.That(DevicePopError(f), Is.EqualTo(VirtqueueError.AddressOutOfMap));
    }

    [Test]
    public void UsedIdBeyondTheQueue()
    {
        using var f = new RingFixture(size: 4);
        var driver = new SplitVirtqueueDriver(f.Ring, eventIndex: false);
        driver.TryAdd(new VirtqBuffer(f.Buffer(0), 8), true, 0);
        driver.KickPrepare();
        f.Used(1, (4, 8));
        Assert.That(Assert.Throws<VirtqueueException>(() => driver.TryGetUsed(out _))!.Error, Is.EqualTo(VirtqueueError.UsedIdOutOfRange));
        Assert.That(Assert.Throws<VirtqueueException>(() => driver.TryAdd(new VirtqBuffer(f.Buffer(0), 8), true, 0))!.Error, Is.EqualTo(VirtqueueError.UsedIdOutOfRange), "the queue stays broken");
    }

    [Test]
    public void UsedIdNeverMadeAvailable()
    {
        using var f = new RingFixture(size: 4);
        var driver = new SplitVirtqueueDriver(f.Ring, eventIndex: false);
        driver.TryAdd(new VirtqBuffer(f.Buffer(0), 8), true, 0); // head 0
        driver.TryAdd(new VirtqBuffer(f.Buffer(1), 8), true, 1); // head 1, staged but not published
        f.Ring.Available.WriteU16Release(SplitRingOffsets.Index, 0);
        driver.Publish();
        driver.TryAdd(new VirtqBuffer(f.Buffer(2), 8), true, 2); // head 2: staged only
        f.Used(1, (2, 8));
        Assert.That(Assert.Throws<VirtqueueException>(() => driver.TryGetUsed(out _))!.Error, Is.EqualTo(VirtqueueError.UsedIdNotAvailable));
    }

    [Test]
    public void UsedIdReturnedTwice()
    {
        using var f = new RingFixture(size: 4);
        var driver = new SplitVirtqueueDriver(f.Ring, eventIndex: false);
        driver.TryAdd(new VirtqBuffer(f.Buffer(0), 8), true, 0);
        driver.TryAdd(new VirtqBuffer(f.Buffer(1), 8), true, 1);
        driver.KickPrepare();
        f.Used(2, (0, 8), (0, 8));
        Assert.That(driver.TryGetUsed(out _), Is.True);
        Assert.That(Assert.Throws<VirtqueueException>(() => driver.TryGetUsed(out _))!.Error, Is.EqualTo(VirtqueueError.UsedIdNotAvailable));
    }

    [Test]
    public void UsedIndexRunningAheadOfOutstandingChains()
    {
        using var f = new RingFixture(size: 4);
        var driver = new SplitVirtqueueDriver(f.Ring, eventIndex: false);
        driver.TryAdd(new VirtqBuffer(f.Buffer(0), 8), true, 0);
        driver.KickPrepare();
        f.Used(2, (0, 8), (1, 8));
        Assert.That(Assert.Throws<VirtqueueException>(() => driver.TryGetUsed(out _))!.Error, Is.EqualTo(VirtqueueError.UsedIndexOutOfRange));
    }

    [Test]
    public void DescriptorChangedAfterPopDoesNotChangeWhatWasValidated()
    {
        using var f = new RingFixture(size: 4);
        f.Desc(0, f.Buffer(0), 8);
        f.Offer(1, 0);
        var device = f.Device();
        Assert.That(device.TryPop(out DescriptorChain c), Is.True);
        f.Desc(0, 0x1000, 0xFFFF_FFFF); // the driver rewrites the descriptor after the device read it
        Assert.That((c.Segments[0].DeviceAddress, c.Segments[0].Length), Is.EqualTo((f.Buffer(0), 8u)));
    }
}

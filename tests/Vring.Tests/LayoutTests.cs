using AmpCan.Vring;
using AmpCan.Vring.Wire;

namespace AmpCan.Tests.Vring;

public class LayoutTests
{
    // Values from the spec's legacy formula (virtio 1.x §2.7.2 legacy interfaces / Linux vring_size).
    [TestCase(16, 4096UL, 256UL, 4096UL, 4230UL)]
    [TestCase(256, 4096UL, 4096UL, 8192UL, 10246UL)]
    [TestCase(16, 16UL, 256UL, 304UL, 438UL)]
    [TestCase(64, 16UL, 1024UL, 1168UL, 1686UL)]
    [TestCase(1, 4UL, 16UL, 24UL, 38UL)]
    [TestCase(32768, 4096UL, 524288UL, 593920UL, 856070UL)]
    public void LegacyLayoutMatchesVringInit(int num, ulong align, ulong avail, ulong used, ulong total)
    {
        VringLayout l = VringLayout.Legacy(num, align);
        Assert.That((l.DescriptorOffset, l.AvailOffset, l.UsedOffset, l.TotalSize), Is.EqualTo((0UL, avail, used, total)));
    }

    [TestCase(0)]
    [TestCase(3)]
    [TestCase(65536)]
    [TestCase(-4)]
    public void QueueSizeMustBeAPowerOfTwoUpTo32768(int num)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => VringLayout.Legacy(num, 4096));
        Assert.That(e!.Message, Does.Contain($"queue size {num}"));
    }

    [TestCase(0UL)]
    [TestCase(2UL)]
    [TestCase(24UL)]
    public void AlignmentMustBeAPowerOfTwoOfAtLeastFour(ulong align)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => VringLayout.Legacy(16, align));
        Assert.That(e!.Message, Does.Contain($"alignment {align}"));
    }

    [Test]
    public void FieldOffsetsMatchTheSpec()
    {
        Assert.Multiple(() =>
        {
            Assert.That(SplitRingOffsets.AvailEntry(3), Is.EqualTo(10UL));
            Assert.That(SplitRingOffsets.UsedEvent(16), Is.EqualTo(36UL));
            Assert.That(SplitRingOffsets.UsedEntry(3), Is.EqualTo(28UL));
            Assert.That(SplitRingOffsets.AvailEvent(16), Is.EqualTo(132UL));
            Assert.That(System.Runtime.InteropServices.Marshal.SizeOf<VirtqDescriptor>(), Is.EqualTo(16));
            Assert.That(System.Runtime.InteropServices.Marshal.SizeOf<VirtqUsedElement>(), Is.EqualTo(8));
        });
    }

    [Test]
    public void DescriptorWireBytes()
    {
        byte[] b = new byte[16];
        new VirtqDescriptor(0x1122334455667788, 0x99AABBCC, VirtqDescFlags.Next | VirtqDescFlags.Write, 0x0102).Write(b);
        Assert.That(b, Is.EqualTo(new byte[] { 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0xCC, 0xBB, 0xAA, 0x99, 0x03, 0x00, 0x02, 0x01 }));
        VirtqDescriptor d = VirtqDescriptor.Read(b);
        Assert.That((d.Address, d.Length, d.Flags, d.Next), Is.EqualTo((0x1122334455667788UL, 0x99AABBCCu, VirtqDescFlags.Next | VirtqDescFlags.Write, (ushort)0x0102)));
    }

    [Test]
    public void RingBytesAfterOneChainAndOneUsedEntry()
    {
        // num 4, align 16: desc @0 (64 bytes), avail @64 (14 bytes), used @80 (38 bytes).
        using var f = new RingFixture(size: 4, align: 16);
        var driver = new SplitVirtqueueDriver(f.Ring, eventIndex: true);
        Assert.That(driver.TryAdd([new VirtqBuffer(0x4001_0000, 0x10)], [new VirtqBuffer(0x4001_0200, 0x200)], token: 7), Is.True);
        driver.KickPrepare();
        var device = f.Device(eventIdx: true);
        Assert.That(device.TryPop(out DescriptorChain c), Is.True);
        device.AddUsed(c.Head, 0x20);
        device.PublishUsed();

        byte[] ring = new byte[118];
        f.Region.Io.Read(0, ring);
        byte[] expected = new byte[118];
        byte[] d0 = [0x00, 0x00, 0x01, 0x40, 0, 0, 0, 0, 0x10, 0, 0, 0, 0x01, 0x00, 0x01, 0x00]; // readable, NEXT -> 1
        byte[] d1 = [0x00, 0x02, 0x01, 0x40, 0, 0, 0, 0, 0x00, 0x02, 0, 0, 0x02, 0x00, 0x00, 0x00]; // writable, end
        d0.CopyTo(expected, 0);
        d1.CopyTo(expected, 16);
        byte[] avail = [0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0x00, 0x00]; // flags 0, idx 1, ring[0] = 0, used_event 0
        avail.CopyTo(expected, 64);
        byte[] used = [0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00]; // flags 0, idx 1, {id 0, len 0x20}
        used.CopyTo(expected, 80);
        Assert.That(ring, Is.EqualTo(expected));
    }
}

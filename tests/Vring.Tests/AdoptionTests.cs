using AmpCan.Vring;
using AmpCan.Vring.Wire;

namespace AmpCan.Tests.Vring;

/// <summary>
/// A driver taking over a live ring (a host restarted under a running remote): indices kept, the device's returns
/// honoured whatever order they come in, every buffer accounted for exactly once.
/// </summary>
public class AdoptionTests
{
    private const int Buffers = 4;
    private const uint BufferSize = 0x200;

    // Our buffers: device-writable, single descriptors at Buffer(i); anything else is not ours.
    private static DescriptorOwner Owner(RingFixture f) => (ushort _, in VirtqDescriptor d) =>
    {
        if (d.Flags != VirtqDescFlags.Write || d.Length != BufferSize) return -1;
        ulong off = d.Address - f.Buffer(0);
        return off % BufferSize == 0 && off / BufferSize < Buffers ? (int)(off / BufferSize) : -1;
    };

    private static void Post(SplitVirtqueueDriver q, RingFixture f, int id)
    {
        Assert.That(q.TryAdd(new VirtqBuffer(f.Buffer(id), BufferSize), deviceWritable: true, id), Is.True);
        q.KickPrepare();
    }

    private static List<int> Settled(SplitVirtqueueDriver q)
    {
        var list = new List<int>();
        while (q.TryTakeSettled(out int t)) list.Add(t);
        return list;
    }

    // The first driver posts all four buffers; the device takes all four and returns buffer 3 and then 1, out of
    // order; the driver collects both and re-posts buffer 3 (into head 1, the free list being LIFO), so descriptor 3
    // still names buffer 3: a stale copy. Buffer 1 stays with the driver. The device holds 0, 2 and 3.
    private static (SplitVirtqueueDriver First, SplitVirtqueueDevice Device, List<Held> Held) Scenario(RingFixture f)
    {
        var first = new SplitVirtqueueDriver(f.Ring, eventIndex: false);
        for (int i = 0; i < Buffers; i++) Post(first, f, i);
        var device = f.Device();
        var held = new List<Held>();
        while (device.TryPop(out DescriptorChain c)) held.Add(new Held(c.Head, (int)((c.Writable[0].DeviceAddress - f.Buffer(0)) / BufferSize)));
        device.AddUsed(held[3].Head, 7);
        device.AddUsed(held[1].Head, 9);
        device.PublishUsed();
        Assert.That(first.TryGetUsed(out UsedBuffer a), Is.True);
        Assert.That(first.TryGetUsed(out UsedBuffer b), Is.True);
        Assert.That((a.Token, b.Token), Is.EqualTo((3, 1)));
        Post(first, f, 3);
        Assert.That(device.TryPop(out DescriptorChain again), Is.True);
        held.RemoveAt(3);
        held.RemoveAt(1);
        held.Add(new Held(again.Head, 3));
        return (first, device, held);
    }

    private readonly record struct Held(ushort Head, int Buffer);

    [Test]
    public void A_driver_that_died_is_replaced_without_zeroing_and_buffers_come_back_once_the_device_paid()
    {
        using var f = new RingFixture(size: 8);
        var (_, device, held) = Scenario(f);
        Assert.That(held.Select(h => h.Buffer), Is.EquivalentTo(new[] { 0, 2, 3 }));
        Assert.That(held[2].Head, Is.EqualTo(1), "buffer 3 went out again in head 1");

        var q = SplitVirtqueueDriver.Adopt(f.Ring, eventIndex: false, saved: null, Owner(f), Buffers);
        Assert.Multiple(() =>
        {
            Assert.That(f.Ring.Available.ReadU16(SplitRingOffsets.Index), Is.EqualTo(5), "the ring was not zeroed");
            Assert.That(q.Outstanding, Is.EqualTo(3), "the device owes available − used = 5 − 2 returns");
            Assert.That(q.AdoptionSettled, Is.False);
            Assert.That(Settled(q), Is.Empty, "nothing is known free while the device may hold any described buffer");
            Assert.That(q.TryGetUsed(out _), Is.False, "entries before the used index are the dead driver's");
            Assert.That(q.AdoptionNote, Does.Contain("3 returns owed"));
        });

        // The device returns what it held, in its own order; each arrives once, as the buffer it is.
        var got = new List<int>();
        foreach (Held c in new[] { held[2], held[0], held[1] })
        {
            device.AddUsed(c.Head, 11);
            device.PublishUsed();
            Assert.That(q.TryGetUsed(out UsedBuffer u), Is.True);
            got.Add(u.Token);
            Assert.That(u.Length, Is.EqualTo(11u));
        }
        Assert.That(got, Is.EqualTo(new[] { 3, 0, 2 }));
        Assert.That(q.AdoptionSettled, Is.True);
        Assert.That(Settled(q), Is.EqualTo(new[] { 1 }), "buffer 1, which the dead driver had, is free; the stale copy of 3 is not handed out again");
        Assert.That(q.FreeDescriptors, Is.EqualTo(8));

        // And the queue runs on from index 5: the device sees the new post as the next entry.
        Post(q, f, 1);
        Assert.That(device.TryPop(out DescriptorChain next), Is.True);
        Assert.That(next.Writable[0].DeviceAddress, Is.EqualTo(f.Buffer(1)));
        Assert.That(f.Ring.Available.ReadU16(SplitRingOffsets.Index), Is.EqualTo(6));
    }

    [Test]
    public void The_stale_copy_of_a_returned_buffer_is_refused_when_a_device_returns_it()
    {
        using var f = new RingFixture(size: 8);
        var (_, device, held) = Scenario(f);
        var q = SplitVirtqueueDriver.Adopt(f.Ring, eventIndex: false, saved: null, Owner(f), Buffers);
        device.AddUsed(held[2].Head, 0); // head 1, buffer 3
        device.PublishUsed();
        Assert.That(q.TryGetUsed(out UsedBuffer u) && u.Token == 3, Is.True);
        f.Used(4, (3u, 0u)); // a lying device returns descriptor 3, the stale copy naming buffer 3 again
        var e = Assert.Throws<VirtqueueException>(() => q.TryGetUsed(out _));
        Assert.That(e!.Error, Is.EqualTo(VirtqueueError.UsedIdNotAvailable));
    }

    [Test]
    public void A_detached_driver_is_resumed_exactly_and_its_uncollected_entries_are_delivered()
    {
        using var f = new RingFixture(size: 8);
        var (first, device, held) = Scenario(f);
        DriverQueueSnapshot saved = first.Snapshot()!;
        Assert.That(saved, Is.Not.Null);
        Assert.That((saved.AvailIndex, saved.LastUsed, saved.OutstandingHeads.Count), Is.EqualTo(((ushort)5, (ushort)2, 3)));
        // While nobody drives the queue, the remote returns buffer 2.
        device.AddUsed(held[1].Head, 5);
        device.PublishUsed();

        var q = SplitVirtqueueDriver.Adopt(f.Ring, eventIndex: false, saved, Owner(f), Buffers);
        Assert.That(q.AdoptionNote, Does.StartWith("resumed"));
        Assert.That(q.AdoptionSettled, Is.True);
        Assert.That(Settled(q), Is.EqualTo(new[] { 1 }), "only the buffer the first driver had is free at once");
        Assert.That(q.TryGetUsed(out UsedBuffer u), Is.True, "the entry written while detached is delivered");
        Assert.That((u.Token, u.Length), Is.EqualTo((2, 5u)));
        Assert.That(q.Outstanding, Is.EqualTo(2));
    }

    [Test]
    public void A_record_the_ring_has_moved_past_is_not_trusted()
    {
        using var f = new RingFixture(size: 8);
        var (first, _, _) = Scenario(f);
        DriverQueueSnapshot saved = first.Snapshot()! with { AvailIndex = 4 };
        var q = SplitVirtqueueDriver.Adopt(f.Ring, eventIndex: false, saved, Owner(f), Buffers);
        Assert.That(q.AdoptionNote, Does.Contain("record's available index 4 is not the ring's"));
        Assert.That(q.AdoptionSettled, Is.False, "it falls back to waiting for what the device owes");
    }

    [Test]
    public void A_ring_that_our_buffers_cannot_have_made_is_refused()
    {
        using var f = new RingFixture(size: 8);
        Scenario(f);
        f.Desc(2, 0xdead_0000, BufferSize, VirtqDescFlags.Write); // an available entry now names a descriptor that is not ours
        var e = Assert.Throws<VirtqueueException>(() => SplitVirtqueueDriver.Adopt(f.Ring, false, null, Owner(f), Buffers));
        Assert.That(e!.Message, Does.Contain("does not describe one of our buffers"));

        using var g = new RingFixture(size: 8);
        Scenario(g);
        g.Ring.Available.WriteU16(SplitRingOffsets.Index, 40); // 38 ahead of used: beyond the queue
        Assert.Throws<VirtqueueException>(() => SplitVirtqueueDriver.Adopt(g.Ring, false, null, Owner(g), Buffers));
    }

    [Test]
    public void With_nothing_owed_every_buffer_not_out_is_free_at_once()
    {
        using var f = new RingFixture(size: 8);
        var first = new SplitVirtqueueDriver(f.Ring, eventIndex: false);
        for (int i = 0; i < Buffers; i++) Post(first, f, i);
        var device = f.Device();
        while (device.TryPop(out DescriptorChain c)) device.AddUsed(c.Head, 0);
        device.PublishUsed(); // all returned, none collected: a transmit queue the remote drained

        var q = SplitVirtqueueDriver.Adopt(f.Ring, false, null, Owner(f), Buffers);
        Assert.That(q.AdoptionSettled, Is.True);
        Assert.That(Settled(q), Is.EqualTo(new[] { 0, 1, 2, 3 }));
        Assert.That(q.Outstanding, Is.Zero);
    }
}

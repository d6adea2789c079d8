using AmpCan.SharedMem;
using AmpCan.Vring;
using AmpCan.Vring.Wire;
using CsCheck;

namespace AmpCan.Tests.Vring;

/// <summary>Arbitrary bytes in the ring areas: the roles may only ever return normally or raise the typed error.</summary>
public class PropertyTests
{
    private static readonly Gen<(int Size, byte[] Desc, byte[] Avail, byte[] Used, bool Indirect, bool EventIdx)> RingBytes =
        from log in Gen.Int[0, 5]
        let size = 1 << log
        from desc in Gen.Byte.Array[16 * size]
        from avail in Gen.Byte.Array[6 + 2 * size]
        from used in Gen.Byte.Array[6 + 8 * size]
        from indirect in Gen.Bool
        from eventIdx in Gen.Bool
        select (size, desc, avail, used, indirect, eventIdx);

    /// <summary>Descriptors biased towards addresses inside the map so the walk goes deep, not just out of bounds.</summary>
    private static readonly Gen<byte[]> PlausibleDescriptors =
        from n in Gen.Int[1, 32]
        from descs in Gen.Select(Gen.ULong[RingFixture.Base - 64, RingFixture.Base + 0x40100], Gen.UInt[0, 0x2000], Gen.UShort[0, 7], Gen.UShort[0, 40]).Array[n]
        select descs.SelectMany(d => RoleTests.Bytes(new VirtqDescriptor(d.Item1, d.Item2, (VirtqDescFlags)d.Item3, d.Item4))).ToArray();

    [Test]
    public void DeviceRoleOnlyRaisesTheTypedErrorOnArbitraryRings()
    {
        using var f = new RingFixture(size: 32, bytes: 0x40000);
        RingBytes.Sample(t =>
        {
            var ring = SplitRing.Legacy(f.Region.Io.Slice(0, VringLayout.LegacySize(t.Size, 16)), t.Size, 16);
            ring.Descriptors.Write(0, t.Desc);
            ring.Available.Write(0, t.Avail);
            ring.Used.Write(0, t.Used);
            DrainDevice(ring, f.Memory, t.EventIdx, t.Indirect);
        }, iter: 3000, threads: 1);
    }

    [Test]
    public void DeviceRoleOnlyRaisesTheTypedErrorOnPlausibleChains()
    {
        using var f = new RingFixture(size: 8, bytes: 0x40000);
        Gen.Select(PlausibleDescriptors, Gen.UShort.Array[8], Gen.UShort[0, 12], Gen.Bool).Sample((descs, heads, availIdx, indirect) =>
        {
            f.Ring.Clear();
            f.Ring.Descriptors.Write(0, descs.AsSpan(0, Math.Min(descs.Length, 128)));
            f.Region.Io.Write(0x9000, descs); // also a candidate indirect table
            for (int i = 0; i < 8; i++) f.Ring.Available.WriteU16(SplitRingOffsets.AvailEntry(i), (ushort)(heads[i] % 10));
            f.Ring.Available.WriteU16(SplitRingOffsets.Index, availIdx);
            DrainDevice(f.Ring, f.Memory, eventIdx: false, indirect);
        }, iter: 5000, threads: 1);
    }

    [Test]
    public void DriverRoleOnlyRaisesTheTypedErrorOnArbitraryUsedRings()
    {
        using var f = new RingFixture(size: 16, bytes: 0x40000);
        Gen.Select(Gen.Byte.Array[6 + 8 * 16], Gen.Int[0, 16], Gen.Bool).Sample((used, add, eventIdx) =>
        {
            var driver = new SplitVirtqueueDriver(f.Ring, eventIdx);
            for (int i = 0; i < add; i++) driver.TryAdd(new VirtqBuffer(f.Buffer(i), 64), i % 2 == 0, i);
            driver.KickPrepare();
            f.Ring.Used.Write(0, used);
            try
            {
                for (int i = 0; i < 40 && driver.TryGetUsed(out UsedBuffer u); i++)
                {
                    Assert.That(u.Length, Is.LessThanOrEqualTo(64u));
                    Assert.That(u.Token, Is.InRange(0, add - 1));
                }
                driver.EnableCallbacks();
            }
            catch (VirtqueueException) { }
        }, iter: 3000, threads: 1);
    }

    private static void DrainDevice(SplitRing ring, MemoryMap memory, bool eventIdx, bool indirect)
    {
        SplitVirtqueueDevice device;
        try { device = new SplitVirtqueueDevice(ring, memory, eventIdx, indirect); }
        catch (VirtqueueException) { return; }
        try
        {
            for (int i = 0; i < 64 && device.TryPop(out DescriptorChain c); i++)
            {
                foreach (BufferSegment s in c.Segments)
                {
                    Assert.That(memory.TryTranslate(s.DeviceAddress, s.Length, out _, out _), Is.True, "every segment handed out is inside the map");
                    if (s.IsWritable && s.Length > 0) s.Span[^1] = 0xEE; // writing must be safe
                }
                device.AddUsed(c.Head, (uint)c.WritableBytes);
            }
            device.PublishUsed();
            device.EnableNotifications();
        }
        catch (VirtqueueException) { }
    }
}

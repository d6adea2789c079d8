using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Wire;
using AmpCan.SharedMem;

namespace AmpCan.Tests.Remoteproc.ResourceTables;

/// <summary>
/// Placing a table's carveouts and vrings in host windows and writing the results back, as Linux's remoteproc core
/// does, over memfd-backed windows: "vrings" at 0x10000000 (the table at its start) and "carveouts" at 0x20000000,
/// whose physical address is 0x80000000.
/// </summary>
public sealed class ResourceTableAllocatorTests : IDisposable
{
    private const uint Any = ResourceTableLayout.AddressAny;
    private const byte Pattern = 0xA5;
    private readonly MappedRegion _vrings = MappedRegion.CreateMemfd("vrings", 0x10000, 0x1000_0000);
    private readonly MappedRegion _carveouts = MappedRegion.CreateMemfd("carveouts", 0x40000, 0x2000_0000);

    public void Dispose()
    {
        _vrings.Dispose();
        _carveouts.Dispose();
    }

    private ResourceTableAllocator Allocator() => new([
        new AllocationWindow(_vrings.Io, WindowUse.Vrings | WindowUse.Buffers),
        new AllocationWindow(_carveouts.Io, WindowUse.Carveouts, PhysicalAddress: 0x8000_0000),
    ]);

    // Fills both windows with a pattern, puts the table at the start of "vrings" and parses it.
    private ResourceTable Load(byte[] table)
    {
        Fill(_vrings.Io);
        Fill(_carveouts.Io);
        _vrings.Io.Write(0, table);
        return ResourceTable.Parse(_vrings.Io.Slice(0, (ulong)table.Length));
    }

    private static void Fill(IoRegion r)
    {
        byte[] p = new byte[r.Length];
        Array.Fill(p, Pattern);
        r.Write(0, p);
    }

    private byte[] Bytes(IoRegion r, ulong length)
    {
        byte[] b = new byte[length];
        r.Read(0, b);
        return b;
    }

    // Offsets: header 16 + 3 offsets = 28; carveout 'heap' @28, carveout 'text' @84, the vdev @140 (vrings at 168, 188, 208).
    private static byte[] Table(uint vdevNotify, VringSpec[] rings, uint heapDa = Any, uint heapPa = 0, uint textPa = 0) => new ResourceTableBuilder()
        .Carveout(heapDa, heapPa, 0x3000, 0, "heap")
        .Carveout(0x2001_0000, textPa, 0x1000, 0, "text")
        .Vdev(36, vdevNotify, 0xF, rings, [0x01, 0x00])
        .Build();

    private static readonly VringSpec[] Rings =
    [
        new(Any, 16, 64, Any),           // vring_size(64, 16) = 0x696
        new(Any, 0x1000, 8, Any),        // vring_size(8, 0x1000) = 0x1046
        new(0x1000_8000, 16, 64, 7),     // fixed
    ];

    [Test]
    public void AnyCarveoutsVringsAndNotifyIdsAreWrittenBackAtTheirOffsets()
    {
        byte[] before = Table(Any, Rings);
        ResourceTable table = Load(before);
        ResourceTableAllocation done = Allocator().Apply(table);

        IoRegion t = _vrings.Io;
        Assert.Multiple(() =>
        {
            // 'heap' (ANY, 0x3000): the first page-aligned room in "carveouts", clear of the fixed 'text' at 0x20010000.
            Assert.That(t.ReadU32(28 + 4), Is.EqualTo(0x2000_0000u), "heap da");
            Assert.That(t.ReadU32(28 + 8), Is.EqualTo(0x8000_0000u), "heap pa");
            Assert.That(t.ReadU32(28 + 12), Is.EqualTo(0x3000u), "heap len unchanged");
            // 'text' (fixed): da kept, pa written as Linux's rproc_alloc_registered_carveouts writes it.
            Assert.That(t.ReadU32(84 + 4), Is.EqualTo(0x2001_0000u), "text da");
            Assert.That(t.ReadU32(84 + 8), Is.EqualTo(0x8001_0000u), "text pa");
            // vring0 (ANY, align 16): after the 0xe4-byte table, on a 16-byte boundary.
            Assert.That(t.ReadU32(168), Is.EqualTo(0x1000_00F0u), "vring0 da");
            // vring1 (ANY, align 0x1000): the next 0x1000 boundary clear of the table and vring0.
            Assert.That(t.ReadU32(188), Is.EqualTo(0x1000_1000u), "vring1 da");
            Assert.That(t.ReadU32(208), Is.EqualTo(0x1000_8000u), "vring2 da (fixed) unchanged");
            // Notify ids: 7 is fixed; the vdev and vrings 0 and 1 left theirs to the host and get 0, 1, 2.
            Assert.That(t.ReadU32(140 + 8), Is.EqualTo(0u), "vdev notifyid");
            Assert.That(t.ReadU32(168 + 12), Is.EqualTo(1u), "vring0 notifyid");
            Assert.That(t.ReadU32(188 + 12), Is.EqualTo(2u), "vring1 notifyid");
            Assert.That(t.ReadU32(208 + 12), Is.EqualTo(7u), "vring2 notifyid (fixed) unchanged");
        });

        // Nothing else in the table changed, and nothing in either window outside it.
        byte[] expected = Table(0, [new(0x1000_00F0, 16, 64, 1), new(0x1000_1000, 0x1000, 8, 2), new(0x1000_8000, 16, 64, 7)],
            heapDa: 0x2000_0000, heapPa: 0x8000_0000, textPa: 0x8001_0000);
        byte[] after = Bytes(_vrings.Io, 0x10000);
        Assert.That(after[..expected.Length], Is.EqualTo(expected));
        Assert.That(after[expected.Length..].All(b => b == Pattern), Is.True, "the vring window past the table is untouched");
        Assert.That(Bytes(_carveouts.Io, 0x40000).All(b => b == Pattern), Is.True, "the carveout window is untouched");

        Assert.That(done.Lines, Does.Contain("carveout 0 'heap': allocated at 0x20000000+0x3000 in carveouts, pa 0x80000000")
            .And.Contain("vdev 2 (id 36) vring 1: allocated at 0x10001000+0x1046 in vrings")
            .And.Contain("vdev 2 (id 36) vring 2: fixed at 0x10008000+0x696 in vrings")
            .And.Contain("vdev 2 vring 0: notify id 1 (table said any)"));
    }

    [Test]
    public void TheLinuxPolicyNumbersEveryVringFromZeroAndLeavesTheVdevsIdAlone()
    {
        // Two vdevs written for a Linux host, both saying vrings 0 and 1 (and vdev notifyid 0).
        VringSpec[] pair = [new(Any, 16, 16, 0), new(Any, 16, 16, 1)];
        byte[] bytes = new ResourceTableBuilder().Vdev(7, 0, 1, pair).Vdev(7, 0, 1, pair).Build();
        ResourceTable table = Load(bytes);
        Assert.Throws<ResourceTableException>(() => Allocator().Apply(table), "kept as they are, the ids clash");
        Assert.That(Bytes(_vrings.Io, (ulong)bytes.Length), Is.EqualTo(bytes), "a refused table is left as it was");

        Allocator().Apply(table, NotifyIdPolicy.Linux);
        // Entries at 24 and 24 + 68 = 92; vring notifyids at +28+12 and +48+12.
        Assert.Multiple(() =>
        {
            Assert.That(new[] { _vrings.Io.ReadU32(24 + 40), _vrings.Io.ReadU32(24 + 60), _vrings.Io.ReadU32(92 + 40), _vrings.Io.ReadU32(92 + 60) },
                Is.EqualTo(new uint[] { 0, 1, 2, 3 }));
            Assert.That(new[] { _vrings.Io.ReadU32(24 + 8), _vrings.Io.ReadU32(92 + 8) }, Is.EqualTo(new uint[] { 0, 0 }), "vdev notifyids untouched");
        });
    }

    [Test]
    public void ClashingFixedNotifyIdsAreRefusedWithBothNamed()
    {
        byte[] bytes = new ResourceTableBuilder().Vdev(36, 9, 1, [new(Any, 16, 16, 3), new(Any, 16, 16, 9)]).Build();
        var e = Assert.Throws<ResourceTableException>(() => Allocator().Apply(Load(bytes)))!;
        Assert.That(e.Message, Is.EqualTo("vdev 0 (id 36) vring 1: notify id 9 is also vdev 0 (id 36)'s; kicks could not be told apart (firmware written for a Linux host wants NotifyIdPolicy.Linux)"));
    }

    private void Refused(byte[] bytes, string expected, Action<ResourceTableAllocator>? prepare = null)
    {
        ResourceTable table = Load(bytes);
        ResourceTableAllocator a = Allocator();
        prepare?.Invoke(a);
        var e = Assert.Throws<ResourceTableException>(() => a.Apply(table))!;
        Assert.That(e.Message, Does.Contain(expected));
        Assert.That(Bytes(_vrings.Io, (ulong)bytes.Length), Is.EqualTo(bytes), "a refused table is left as it was");
    }

    [Test]
    public void OverlappingFixedCarveoutsAreRefused() => Refused(
        new ResourceTableBuilder().Carveout(0x2000_0000, 0, 0x2000, 0, "a").Carveout(0x2000_1000, 0, 0x1000, 0, "b").Build(),
        "carveout 1 'b' [0x20001000, 0x20002000) overlaps carveout 0 'a' [0x20000000, 0x20002000)");

    [Test]
    public void AFixedVringOverTheTableIsRefused() => Refused(
        new ResourceTableBuilder().Vdev(7, 0, 1, [new(0x1000_0000, 16, 16, 1)]).Build(),
        "vdev 0 (id 7) vring 0 [0x10000000, 0x100001b6) overlaps the resource table [0x10000000, 0x10000044)");

    [Test]
    public void AFixedVringOverAReservedRangeIsRefused() => Refused(
        new ResourceTableBuilder().Vdev(7, 0, 1, [new(0x1000_4000, 16, 16, 1)]).Build(),
        "overlaps firmware .data [0x10004100, 0x10004200)", a => a.Reserve("firmware .data", 0x1000_4100, 0x100));

    [Test]
    public void ACarveoutPast4GiBIsRefused() => Refused(
        new ResourceTableBuilder().Carveout(0xFFFF_F000, 0, 0x2000, 0, "wrap").Build(),
        "carveout 0 'wrap' at 0xfffff000 of 0x2000 bytes runs past 4 GiB");

    [Test]
    public void AFixedCarveoutOutsideEveryCarveoutWindowIsRefused() => Refused(
        new ResourceTableBuilder().Carveout(0x1000_2000, 0, 0x1000, 0, "in-the-vring-window").Build(),
        "carveout 0 'in-the-vring-window' [0x10002000, 0x10003000) does not lie wholly inside a window for carveouts (carveouts [0x20000000+0x40000, carveouts])");

    [Test]
    public void AFixedCarveoutRunningOffItsWindowIsRefused() => Refused(
        new ResourceTableBuilder().Carveout(0x2003_F000, 0, 0x2000, 0, "edge").Build(),
        "carveout 0 'edge' [0x2003f000, 0x20041000) does not lie wholly inside");

    [Test]
    public void ACarveoutTooBigForAnyWindowIsRefused() => Refused(
        new ResourceTableBuilder().Carveout(Any, 0, 0x80000, 0, "huge").Build(),
        "carveout 0 'huge': no room for 0x80000 bytes aligned to 0x1000 below 4 GiB in the windows for carveouts");

    [Test]
    public void AVringThatFitsNowhereIsRefused() => Refused(
        new ResourceTableBuilder().Vdev(7, 0, 1, [new(Any, 0x1000, 32768, 1)]).Build(),
        "vdev 0 (id 7) vring 0: no room for 0xd1006 bytes aligned to 0x1000 below 4 GiB in the windows for vrings (vrings [0x10000000+0x10000, vrings|buffers])");

    [Test]
    public void DevmemIsReportedAndNotWritten()
    {
        byte[] withDevmem = new ResourceTableBuilder().Carveout(0x4000_0000, 0x4000_0000, 0x1000, 0, "uart").Build();
        BitConverter.GetBytes((uint)ResourceType.DevMem).CopyTo(withDevmem, 20);
        ResourceTable table = Load(withDevmem);
        ResourceTableAllocation done = Allocator().Apply(table);
        Assert.That(done.Memory.Single().Kind, Is.EqualTo(PlacementKind.DevMemNotMapped));
        Assert.That(done.Lines.Single(), Is.EqualTo("devmem 0 'uart': da 0x40000000+0x1000 not mapped (devmem needs an IOMMU; left to the caller)"));
        Assert.That(Bytes(_vrings.Io, (ulong)withDevmem.Length), Is.EqualTo(withDevmem));
    }

    [Test]
    public void BuffersComeFromWhatTheTableLeft()
    {
        ResourceTableAllocator a = Allocator();
        ResourceTable table = Load(Table(Any, Rings));
        a.Apply(table);
        ResourcePlacement pool = a.Allocate("vdev2buffer", 0x4000, 0x1000, WindowUse.Buffers);
        Assert.That(pool.DeviceAddress, Is.EqualTo(0x1000_3000UL), "past vring1 (ends 0x10002046), clear of the fixed vring2 at 0x10008000");
        Assert.That(a.Allocate("more", 0x4000, 0x1000, WindowUse.Buffers).DeviceAddress, Is.EqualTo(0x1000_9000UL), "then past vring2");
        Assert.Throws<ResourceTableException>(() => a.Allocate("too big", 0x8000, 0x1000, WindowUse.Buffers), "0x10000-byte window, what is left is in pieces");
        Assert.Throws<InvalidOperationException>(() => a.Apply(table), "one allocator per boot");
    }

    [Test]
    public void OverlappingWindowsAreRefused()
    {
        var e = Assert.Throws<ArgumentException>(() => new ResourceTableAllocator([
            new AllocationWindow(_vrings.Io, WindowUse.Vrings), new AllocationWindow(_vrings.Io.Slice(0x100, 0x100), WindowUse.Carveouts)]))!;
        Assert.That(e.Message, Does.Contain("overlap"));
    }
}

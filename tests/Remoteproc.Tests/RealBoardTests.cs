using AmpCan.Remoteproc.Boards;
using AmpCan.Vring;

namespace AmpCan.Tests.Remoteproc;

/// <summary>
/// The board files in boards/: each loads and validates; the real SoCs' regions are their device trees' (the values of
/// the research note on STM32MP157C-DK2, i.MX8MP EVK, AM62x SK and ZCU102), do not overlap but for declared aliases,
/// hold their vrings, and their mailboxes are the device trees' channels.
/// </summary>
public class RealBoardTests
{
    private static readonly string BoardsDirectory = Path.Combine(Path.GetDirectoryName(typeof(RealBoardTests).Assembly.Location)!, "boards");

    private static IEnumerable<string> BoardFiles() => Directory.EnumerateFiles(BoardsDirectory, "*.json").Select(Path.GetFileName).Order()!;

    private static readonly string[] RealBoards = ["stm32mp157c-dk2.json", "imx8mp-evk.json", "am62x-sk.json", "zcu102.json"];

    private static BoardFile Load(string file) => BoardFile.Load(Path.Combine(BoardsDirectory, file));

    [Test]
    public void TheShippedBoardsAreAllThere() =>
        // So that the per-file tests below cannot pass by finding nothing.
        Assert.That(BoardFiles(), Is.SupersetOf(new[] { "sim.json", "openamp-linux.json", "sim-two-cores.json" }.Concat(RealBoards)));

    [TestCaseSource(nameof(BoardFiles))]
    public void EveryBoardFileLoadsAndValidates(string file)
    {
        BoardFile board = Load(file);
        Assert.That(board.Cores, Is.Not.Empty);
        foreach (BoardDescriptor core in board.Cores) Assert.DoesNotThrow(() => core.Validate(file), "a loaded core validates again");
    }

    [TestCaseSource(nameof(RealBoards))]
    public void TheServiceServesARealBoardsCores(string file)
    {
        string path = Path.Combine(BoardsDirectory, file);
        foreach (BoardDescriptor core in BoardFile.Load(path).Cores) Assert.That(() => core.CheckServed(path), Throws.Nothing, core.Name);
    }

    // Every region of every real board: (file, core, region, device address, physical address, size) as the note reads
    // them from the device trees (reg) and the drivers' address translation (dma-ranges, att tables, TCM banks).
    private static readonly (string File, int Core, string Region, ulong Da, ulong Pa, ulong Size)[] DeviceTreeRegions =
    [
        ("stm32mp157c-dk2.json", 0, "retram", 0x0, 0x38000000, 0x10000),
        ("stm32mp157c-dk2.json", 0, "mcuram2", 0x10000000, 0x10000000, 0x40000),
        ("stm32mp157c-dk2.json", 0, "vdev0vring0", 0x10040000, 0x10040000, 0x1000),
        ("stm32mp157c-dk2.json", 0, "vdev0vring1", 0x10041000, 0x10041000, 0x1000),
        ("stm32mp157c-dk2.json", 0, "vdev0buffer", 0x10042000, 0x10042000, 0x4000),
        ("stm32mp157c-dk2.json", 0, "mcuram", 0x30000000, 0x30000000, 0x40000),
        ("imx8mp-evk.json", 0, "vdevbuffer", 0x55400000, 0x55400000, 0x100000),
        ("imx8mp-evk.json", 0, "vdev0vring0", 0x55000000, 0x55000000, 0x8000),
        ("imx8mp-evk.json", 0, "vdev0vring1", 0x55008000, 0x55008000, 0x8000),
        ("imx8mp-evk.json", 0, "rsc-table", 0x550ff000, 0x550ff000, 0x1000),
        ("imx8mp-evk.json", 0, "m4", 0x80000000, 0x80000000, 0x1000000),
        ("imx8mp-evk.json", 0, "itcm", 0x0, 0x7e0000, 0x20000),
        ("imx8mp-evk.json", 0, "dtcm", 0x20000000, 0x800000, 0x20000),
        ("am62x-sk.json", 0, "m4f-memory", 0x9cc00000, 0x9cc00000, 0xe00000),
        ("am62x-sk.json", 0, "m4f-dma-memory", 0x9cb00000, 0x9cb00000, 0x100000),
        ("am62x-sk.json", 0, "iram", 0x0, 0x5000000, 0x30000),
        ("am62x-sk.json", 0, "dram", 0x30000, 0x5040000, 0x10000),
        ("zcu102.json", 0, "rproc_0_fw_image", 0x3ed00000, 0x3ed00000, 0x40000),
        ("zcu102.json", 0, "vdev0vring0", 0x3ed40000, 0x3ed40000, 0x4000),
        ("zcu102.json", 0, "vdev0vring1", 0x3ed44000, 0x3ed44000, 0x4000),
        ("zcu102.json", 0, "vdev0buffer", 0x3ed48000, 0x3ed48000, 0x100000),
        ("zcu102.json", 0, "atcm0", 0x0, 0xffe00000, 0x10000),
        ("zcu102.json", 0, "btcm0", 0x20000, 0xffe20000, 0x10000),
        ("zcu102.json", 1, "rproc_1_fw_image", 0x3ef00000, 0x3ef00000, 0x40000),
        ("zcu102.json", 1, "vdev0vring0", 0x3ef40000, 0x3ef40000, 0x4000),
        ("zcu102.json", 1, "vdev0vring1", 0x3ef44000, 0x3ef44000, 0x4000),
        ("zcu102.json", 1, "vdev0buffer", 0x3ef48000, 0x3ef48000, 0x100000),
        ("zcu102.json", 1, "atcm1", 0x0, 0xffe90000, 0x10000),
        ("zcu102.json", 1, "btcm1", 0x20000, 0xffeb0000, 0x10000),
    ];

    [TestCaseSource(nameof(RealBoards))]
    public void TheRegionsAreTheDeviceTrees(string file)
    {
        BoardFile board = Load(file);
        var expected = DeviceTreeRegions.Where(r => r.File == file).Select(r => (r.Core, r.Region, r.Da, r.Pa, r.Size)).ToList();
        var actual = board.Cores.SelectMany((c, i) => c.EffectiveRegions.Select(r => (i, r.Name, r.DeviceAddress, r.PhysicalAddress, r.Size))).ToList();
        Assert.That(actual, Is.EquivalentTo(expected));
        Assert.That(board.Cores.SelectMany(c => c.EffectiveRegions).Select(r => r.Backing.Kind), Is.All.EqualTo(SharedMemoryKind.DevMem));
    }

    [TestCaseSource(nameof(RealBoards))]
    public void TheRegionsDoNotOverlapButForAliases(string file)
    {
        // Checked here on its own, not through the validator, so that a validator that lets an overlap pass is caught.
        BoardFile board = Load(file);
        var all = board.Cores.SelectMany(c => c.EffectiveRegions.Select(r => (Core: c, Region: r))).ToList();
        for (int i = 0; i < all.Count; i++)
            for (int j = i + 1; j < all.Count; j++)
            {
                var (ca, a) = all[i];
                var (cb, b) = all[j];
                bool alias = ca == cb && (a.AliasOf == b.Name || b.AliasOf == a.Name);
                Assert.That(alias || !Overlap(a.PhysicalAddress, a.Size, b.PhysicalAddress, b.Size), $"{ca.Name} {a.Name} and {cb.Name} {b.Name} share physical memory");
                if (ca == cb)
                    Assert.That(alias || !Overlap(a.DeviceAddress, a.Size, b.DeviceAddress, b.Size), $"{a.Name} and {b.Name} overlap in {ca.Name}'s address space");
            }
    }

    private static bool Overlap(ulong a, ulong aSize, ulong b, ulong bSize) => a < b + bSize && b < a + aSize;

    [Test]
    public void StmMcuSramAtBothAddressesIsOneMemory()
    {
        BoardDescriptor m4 = Load("stm32mp157c-dk2.json").Cores.Single();
        RegionSpec mcuram = m4.EffectiveRegions.Single(r => r.Name == "mcuram");
        Assert.That((mcuram.AliasOf, mcuram.Size), Is.EqualTo(("mcuram2", m4.EffectiveRegions.Single(r => r.Name == "mcuram2").Size)));
    }

    // Two vrings of (num, align) as Linux's vring_size lays them out, placed first-fit in the core's vring regions.
    [TestCase("stm32mp157c-dk2.json", 0, 16, 16)]
    [TestCase("stm32mp157c-dk2.json", 0, 128, 16)] // the note: a 4 KiB vring region holds num 128 at align 16
    [TestCase("imx8mp-evk.json", 0, 16, 16)]
    [TestCase("imx8mp-evk.json", 0, 256, 0x1000)]
    [TestCase("am62x-sk.json", 0, 256, 0x1000)]
    [TestCase("zcu102.json", 0, 256, 0x1000)] // OpenAMP's zynqmp_r5 reference table: VRING_SIZE 256, VRING_ALIGN 0x1000
    [TestCase("zcu102.json", 1, 256, 0x1000)]
    public void TwoVringsFitTheVringRegions(string file, int core, int num, int align)
    {
        IReadOnlyList<RegionSpec> regions = Load(file).Cores[core].EffectiveRegions;
        Assert.That(PlaceVrings(regions, 2, num, (ulong)align), Is.EqualTo(2), $"two vrings of {num} entries aligned to {align} ({VringLayout.LegacySize(num, (ulong)align)} bytes each)");
    }

    [Test]
    public void StmVringRegionsAreTooSmallForNum256()
    {
        // The note's other half: 4 KiB does not hold num 256 at align 16, so the regions are the device tree's 4 KiB.
        IReadOnlyList<RegionSpec> regions = Load("stm32mp157c-dk2.json").Cores.Single().EffectiveRegions;
        Assert.That(PlaceVrings(regions, 2, 256, 16), Is.Zero);
    }

    private static int PlaceVrings(IReadOnlyList<RegionSpec> regions, int count, int num, ulong align)
    {
        ulong size = VringLayout.LegacySize(num, align);
        int placed = 0;
        foreach (RegionSpec r in regions.Where(r => r.Has(RegionRole.Vrings)))
        {
            ulong at = r.DeviceAddress, end = r.DeviceAddress + r.Size;
            while (placed < count)
            {
                at = (at + align - 1) & ~(align - 1);
                if (at + size > end) break;
                at += size;
                placed++;
            }
        }
        return placed;
    }

    // The device trees' mbox-names (AM62x's one mbox has none: its sub-mailbox node's name).
    [TestCase("stm32mp157c-dk2.json", 0, new[] { "vq0", "vq1", "shutdown", "detach" })]
    [TestCase("imx8mp-evk.json", 0, new[] { "tx", "rx", "rxdb" })]
    [TestCase("am62x-sk.json", 0, new[] { "mbox-m4-0" })]
    [TestCase("zcu102.json", 0, new[] { "tx", "rx" })]
    [TestCase("zcu102.json", 1, new[] { "tx", "rx" })]
    public void TheMailboxesAreTheDeviceTreesChannels(string file, int core, string[] names)
    {
        BoardDescriptor c = Load(file).Cores[core];
        Assert.That(c.EffectiveMailboxes.Select(m => m.Name), Is.EqualTo(names));
        Assert.That(c.EffectiveMailboxes.Select(m => m.ToDoorbell()), Has.Member(c.Doorbell), "the runtime's doorbell is one of them");
    }

    [Test]
    public void StmIpccKicksSetTheChannelsBitInC1scr()
    {
        // IPCC mailbox@4c001000 <0x4c001000 0x400>: a kick on channel n sets bit 16 + n of C1SCR at +0x8.
        BoardDescriptor m4 = Load("stm32mp157c-dk2.json").Cores.Single();
        Assert.That(m4.EffectiveMailboxes.Select(m => m.ToDoorbell()).Select(d => (d.MailboxOffset, d.MailboxValue)),
            Is.EqualTo(new (ulong, ulong)[] { (0x8, 1UL << 16), (0x8, 1UL << 17), (0x8, 1UL << 18), (0x8, 1UL << 19) }));
        Assert.That(m4.EffectiveMailboxes.Take(2).Select(m => m.NotifyIds!.Single()), Is.EqualTo(new[] { 0, 1 }), "vq0 carries notify id 0, vq1 carries 1");
    }

    [Test]
    public void StmRegisterWritesHitRccAndPwr()
    {
        // RCC_MP_GCR.BOOT_MCU 0x5000010C bit 0, RCC_MP_GRSTCSETR.MCURST 0x50000404 bit 1, PWR_MCU PDDS 0x50001014 bit 0.
        RegisterWindowSpec w = Load("stm32mp157c-dk2.json").Cores.Single().EffectiveCore.Registers!;
        var writes = w.Start.Concat(w.Stop).Concat(w.Hold).Select(x => (w.PhysicalAddress + x.Offset, x.Mask & x.Value)).Distinct();
        Assert.That(writes, Is.EquivalentTo(new[] { (0x5000010CUL, 0UL), (0x5000010CUL, 1UL), (0x50000404UL, 2UL), (0x50001014UL, 0UL), (0x50001014UL, 1UL) }));
    }

    [Test]
    public void ZcuHasTwoR5fCoresWithTheirOwnLifecycles()
    {
        BoardFile zcu = Load("zcu102.json");
        Assert.That(zcu.Cores.Select(c => (c.Name, c.EffectiveCore.Mechanism, c.EffectiveCore.Remoteproc)),
            Is.EqualTo(new[] { ("zcu102/r5f0", CoreMechanism.SysfsRemoteproc, "remoteproc0"), ("zcu102/r5f1", CoreMechanism.SysfsRemoteproc, "remoteproc1") }));
    }

    [Test]
    public void TheSimulatedMultiCoreExampleIsServedCoreByCoreNotAsOneBoard()
    {
        Assert.That(Load("sim-two-cores.json").Cores.Select(c => c.Name), Is.EqualTo(new[] { "sim-two-cores/m4", "sim-two-cores/r5" }));
        foreach (BoardDescriptor core in Load("sim-two-cores.json").Cores) Assert.That(() => core.CheckServed("sim-two-cores.json"), Throws.Nothing);
        Assert.That(Assert.Throws<BoardException>(() => BoardDescriptor.Load(Path.Combine(BoardsDirectory, "sim-two-cores.json")))!.Message,
            Does.Contain("the service serves each (BoardFile.Load)"));
    }
}

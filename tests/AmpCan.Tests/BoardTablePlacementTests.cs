using System.Text;
using AmpCan.Host.Boards;
using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Boards;
using AmpCan.Remoteproc.Firmware;
using AmpCan.Remoteproc.Wire;
using AmpCan.Rpmsg;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Simulation;
using AmpCan.Tests.Remoteproc.Firmware;
using AmpCan.Vring;
using static AmpCan.Remoteproc.Firmware.Wire.ElfLayout;
using static AmpCan.Tests.Host.Stm32BoardStandIn;

namespace AmpCan.Tests.Host;

/// <summary>
/// A core this host loads and starts itself (STM32MP157C-DK2's board through devmem-registers, over a file standing in
/// for /dev/mem) whose image leaves its vrings and the vdev's notify id to the host (FW_RSC_ADDR_ANY): the host places
/// them in the board's vring regions and writes them into the loaded table before it releases the core, as Linux's
/// remoteproc does, and its rpmsg comes up on the rings the core found there.
/// </summary>
[NonParallelizable]
[CancelAfter(120_000)]
public class BoardTablePlacementTests
{
    private const ulong McuRam2 = 0x1000_0000, VringRegion = 0x1004_0000;
    private const uint Any = ResourceTableLayout.AddressAny, Align = 16, Num = 16;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    // The vrings at FW_RSC_ADDR_ANY with the IPCC's notify ids 0 and 1 fixed (the board routes kicks by them), the vdev's
    // own id left to the host.
    private static byte[] Table() => new ResourceTableBuilder()
        .Vdev(VirtioRpmsg.DeviceId, Any, 1u << VirtioRpmsg.FeatureNameService, [new VringSpec(Any, Align, Num, 0), new VringSpec(Any, Align, Num, 1)])
        .Build();

    private static void WriteImage(string path)
    {
        byte[] code = [.. Enumerable.Range(0, 0x40).Select(i => (byte)i)];
        byte[] table = Table();
        File.WriteAllBytes(path, new ElfBuilder(ElfClass.Elf32, entry: 0x1)
            .Segment(0x0, code).SectionInSegment(".text", 0, 0, code.Length)
            .Segment(McuRam2, table, flags: FlagRead | FlagWrite).SectionInSegment(".resource_table", 1, 0, table.Length)
            .Build().Bytes);
    }

    [Test]
    public void VringsLeftToTheHostArePlacedInTheVringRegionAndWrittenBackBeforeTheCoreIsReleased()
    {
        using var board = new Stm32BoardStandIn(fileRegions: false);
        WriteImage(board.FirmwareImage);
        using MappedRegion regs = board.MapRegisters();
        regs.Io.WriteU32Release(McuPdds, 0x1);
        using var core = new SimulatedStm32M4(board);

        using BoardHost host = BoardHost.Start(board.Board, new BoardHostOptions { PhysicalMemoryPath = board.PhysicalMemory });
        Assert.That(core.Released.Wait(Patience), Is.True, "the watcher never saw the start sequence clear PDDS");
        Assert.That(core.Failure, Is.Null, "the core did not boot");

        // Each ring in the carveout named after it, as Linux's rproc_alloc_vring puts it: vdev0vring0@10040000 and
        // vdev0vring1@10041000 (first fit would have put both in the first).
        ulong ring0 = VringRegion, ring1 = VringRegion + 0x1000;
        Assert.Multiple(() =>
        {
            Assert.That(core.SeenAtRelease, Is.EqualTo(((uint)ring0, (uint)ring1, 2u)),
                "when the core was released its table held the placed vrings and notify id 2 for the vdev (0 and 1 are the vrings')");
            Assert.That(host.Core!.Placement!.Memory.Select(p => (p.Kind, p.DeviceAddress)),
                Is.EqualTo(new[] { (PlacementKind.VringAllocated, ring0), (PlacementKind.VringAllocated, ring1) }));
            Assert.That(host.ResourceTable.Vdevs.Single().Vring(1).DeviceAddress, Is.EqualTo((uint)ring1), "the host reads the table it wrote");
        });

        RpmsgChannel? echo = null;
        Assert.That(SpinWait.SpinUntil(() => (echo = host.Rpmsg.Channels.FirstOrDefault(c => c.Name == "rpmsg-echo")) is not null, Patience), Is.True,
            "the core's echo channel never came up on the placed rings");
        using RpmsgEndpoint ep = host.Rpmsg.CreateEndpoint("client", null, destination: echo!.RemoteAddress);
        ep.Send(Encoding.ASCII.GetBytes("rings placed by the host"));
        using RpmsgMessage reply = ep.Receive(Patience);
        Assert.That(Encoding.ASCII.GetString(reply.Payload), Is.EqualTo("rings placed by the host"));
    }

    [Test]
    public void AVringThatFitsNoVringRegionLeavesTheCoreHeldAndTheTableAsItWas()
    {
        // Rings of 1024 entries need more than a vring region's 4 KiB: refused before the release, naming the vring.
        byte[] table = new ResourceTableBuilder()
            .Vdev(VirtioRpmsg.DeviceId, Any, 1u << VirtioRpmsg.FeatureNameService, [new VringSpec(Any, Align, 1024, 0), new VringSpec(Any, Align, 1024, 1)])
            .Build();
        using var board = new Stm32BoardStandIn(fileRegions: false);
        File.WriteAllBytes(board.FirmwareImage, new ElfBuilder(ElfClass.Elf32, entry: 0x1)
            .Segment(McuRam2, table, flags: FlagRead | FlagWrite).SectionInSegment(".resource_table", 0, 0, table.Length)
            .Build().Bytes);
        using MappedRegion regs = board.MapRegisters();
        regs.Io.WriteU32Release(McuPdds, 0x1);

        Assert.That(() => BoardHost.Start(board.Board, new BoardHostOptions { PhysicalMemoryPath = board.PhysicalMemory }),
            Throws.TypeOf<BoardException>().With.Message.Contains("resource table").And.Message.Contains("vdev 0 (id 7) vring 0").And.Message.Contains("no room"));
        Assert.That(regs.Io.ReadU32Acquire(McuPdds) & 1, Is.EqualTo(1u), "never released");
        Assert.That(board.ReadPhysical(McuRam2, table.Length), Is.EqualTo(table), "the loaded table left as the image had it");
    }

}

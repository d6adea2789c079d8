using System.Text;
using AmpCan.Host.Boards;
using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Boards;
using AmpCan.Remoteproc.Firmware;
using AmpCan.Rpmsg;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Simulation;
using AmpCan.Tests.Remoteproc.Firmware;
using static AmpCan.Remoteproc.Firmware.Wire.ElfLayout;
using static AmpCan.Tests.Host.Stm32BoardStandIn;

namespace AmpCan.Tests.Host;

/// <summary>
/// The host serving STM32MP157C-DK2's Cortex-M4 as its board file describes it (devmem-registers): the regions mapped
/// at the device tree's addresses, the core held, the image loaded into the regions, the core released through the RCC
/// sequences, the table read where the image's section put it, and the core stopped at the end. No STM32 here: the
/// regions and the register window are files standing in for /dev/mem (<see cref="Stm32BoardStandIn"/>), and the
/// core is AmpCan's simulated firmware started by a watcher when the start sequence clears PDDS. Not tested on silicon.
/// </summary>
[NonParallelizable]
public class BoardRealCoreTests
{
    private const ulong McuRam2 = 0x1000_0000, AliasOffset = 0x1000, TraceAt = 0x1000_2000;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private static readonly byte[] Code = [.. Enumerable.Range(0, 0x40).Select(i => (byte)(0xC0 + i))];
    private static readonly byte[] AliasBytes = [.. Enumerable.Repeat((byte)0x5A, 0x20)];
    private const int Bss = 0x100;

    // The table the real image carries: one rpmsg vdev, its vrings in vdev0vring0/1 with notify ids 0 and 1 (IPCC vq0,
    // vq1), a trace buffer in mcuram2.
    private static byte[] Table() => new ResourceTableBuilder()
        .Vdev(VirtioRpmsg.DeviceId, 2, 1u << VirtioRpmsg.FeatureNameService,
            [new VringSpec(0x1004_0000, 16, 16, 0), new VringSpec(0x1004_1000, 16, 16, 1)])
        .Trace((uint)TraceAt, 0x800, "cm4_log")
        .Build();

    // Code at da 0 (RETRAM), the table and a BSS at mcuram2's base, and a segment written through the SRAM's other
    // alias at 0x30000000, which must land in mcuram2's memory.
    private static void WriteImage(string path, ulong extraSegment = 0x3000_0000 + AliasOffset)
    {
        byte[] table = Table();
        File.WriteAllBytes(path, new ElfBuilder(ElfClass.Elf32, entry: 0x1)
            .Segment(0x0, Code).SectionInSegment(".text", 0, 0, Code.Length)
            .Segment(McuRam2, table, memSize: (ulong)(table.Length + Bss), flags: FlagRead | FlagWrite).SectionInSegment(".resource_table", 1, 0, table.Length)
            .Segment(extraSegment, AliasBytes, flags: FlagRead | FlagWrite)
            .Build().Bytes);
    }

    private static (uint Boot, uint Reset, uint Pdds) Registers(MappedRegion regs) =>
        (regs.Io.ReadU32Acquire(McuBoot), regs.Io.ReadU32Acquire(McuReset), regs.Io.ReadU32Acquire(McuPdds));

    [Test]
    public void TheImageLandsInTheRegionFilesAndTheCoreIsHeldReleasedAndStoppedThroughRcc()
    {
        using var board = new Stm32BoardStandIn(fileRegions: true);
        WriteImage(board.FirmwareImage);
        using MappedRegion regs = board.MapRegisters();
        regs.Io.WriteU32Release(McuBoot, 0x101); // released (bit 0) before we start, bit 8 someone else's
        regs.Io.WriteU32Release(McuPdds, 0x1);   // PDDS set, as a stop leaves it

        BoardHost host = BoardHost.Start(board.Board, new BoardHostOptions { PhysicalMemoryPath = board.PhysicalMemory });
        try
        {
            byte[] table = Table();
            Assert.Multiple(() =>
            {
                Assert.That(ReadFile(board.RegionFile("retram"), 0, Code.Length), Is.EqualTo(Code), "the code went to da 0, RETRAM's first byte");
                Assert.That(ReadFile(board.RegionFile("mcuram2"), 0, 16), Is.EqualTo(table[..16]), "the table's header at mcuram2's first byte");
                Assert.That(ReadFile(board.RegionFile("mcuram2"), (ulong)table.Length, Bss), Is.All.Zero, "the BSS after it zeroed");
                Assert.That(ReadFile(board.RegionFile("mcuram2"), (ulong)(table.Length + Bss), 1), Is.EqualTo(new byte[] { 0xAA }), "nothing past the BSS written");
                Assert.That(ReadFile(board.RegionFile("mcuram2"), AliasOffset, AliasBytes.Length), Is.EqualTo(AliasBytes),
                    "the segment at 0x30001000 (mcuram, the alias) landed in mcuram2's memory");
                Assert.That(host.ResourceTable.Window.DeviceAddress, Is.EqualTo(McuRam2), "the table was read where the image's section put it");
                Assert.That(host.ResourceTable.Vdevs.Single().Vring(1).DeviceAddress, Is.EqualTo(0x1004_1000u));
                Assert.That(host.Core!.Started, Is.True);
                // Start: PDDS cleared, BOOT_MCU released and held again; the other bits kept, MCURST untouched.
                Assert.That(Registers(regs), Is.EqualTo((0x100u, 0u, 0u)));
            });
        }
        finally
        {
            host.Dispose();
        }
        // Stop: held, MCURST written whole, PDDS set.
        Assert.That(Registers(regs), Is.EqualTo((0x100u, 2u, 1u)));
    }

    [Test]
    public void AnImageThatDoesNotFitLeavesTheCoreHeldAndNeverStarted()
    {
        using var board = new Stm32BoardStandIn(fileRegions: true);
        WriteImage(board.FirmwareImage, extraSegment: 0x2000_0000); // no region there
        using MappedRegion regs = board.MapRegisters();
        regs.Io.WriteU32Release(McuBoot, 0x101);
        regs.Io.WriteU32Release(McuPdds, 0x1);
        Assert.That(() => BoardHost.Start(board.Board, new BoardHostOptions { PhysicalMemoryPath = board.PhysicalMemory }),
            Throws.TypeOf<BoardException>().With.Message.Contains("core.firmware").And.Message.Contains("0x20000000"));
        Assert.That(Registers(regs), Is.EqualTo((0x100u, 0u, 1u)), "held before loading; neither started nor stopped");
        Assert.That(ReadFile(board.RegionFile("retram"), 0, 4), Is.EqualTo(new byte[] { 0xAA, 0xAA, 0xAA, 0xAA }), "nothing loaded");
    }

    [Test]
    public void TheCrossCompiledCortexM4ImageBootsAndItsChannelsComeUp()
    {
        string built = CortexMFirmware.Build(); // ignores the test, naming the package, without gcc-arm-none-eabi
        using var board = new Stm32BoardStandIn(fileRegions: false);
        File.Copy(built, board.FirmwareImage);
        using MappedRegion regs = board.MapRegisters();
        regs.Io.WriteU32Release(McuPdds, 0x1);
        using var core = new SimulatedStm32M4(board);

        using BoardHost host = BoardHost.Start(board.Board, new BoardHostOptions { PhysicalMemoryPath = board.PhysicalMemory });
        Assert.That(core.Released.Wait(Patience), Is.True, "the watcher never saw the start sequence clear PDDS");
        Assert.That(core.Failure, Is.Null, "the core did not boot");
        Assert.That(host.Core!.Loaded!.ResourceTable!.DeviceAddress, Is.EqualTo(McuRam2), "the image's .resource_table is mcuram2's first byte");
        Assert.That(host.ResourceTable.Window.DeviceAddress, Is.EqualTo(McuRam2));

        RpmsgChannel? echo = null;
        Assert.That(SpinWait.SpinUntil(() => (echo = host.Rpmsg.Channels.FirstOrDefault(c => c.Name == "rpmsg-echo")) is not null, Patience), Is.True,
            "the core's echo channel never came up");
        using RpmsgEndpoint ep = host.Rpmsg.CreateEndpoint("client", null, destination: echo!.RemoteAddress);
        ep.Send(Encoding.ASCII.GetBytes("hello, M4"));
        using RpmsgMessage reply = ep.Receive(Patience);
        Assert.That(Encoding.ASCII.GetString(reply.Payload), Is.EqualTo("hello, M4"));
    }

}

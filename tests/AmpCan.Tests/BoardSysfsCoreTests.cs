using System.Text.Json.Nodes;
using AmpCan.Host.Boards;
using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Boards;
using AmpCan.Remoteproc.Firmware;
using AmpCan.Remoteproc.Lifecycle.Mechanisms;
using AmpCan.Rpmsg;
using AmpCan.SharedMem;
using AmpCan.Tests.Remoteproc.Firmware;
using AmpCan.Tests.Remoteproc.Lifecycle.Mechanisms;
using static AmpCan.Remoteproc.Firmware.Wire.ElfLayout;

namespace AmpCan.Tests.Host;

/// <summary>
/// The host serving a core the kernel's remoteproc loads and starts (sysfs-remoteproc), on STM32MP157C-DK2's memory
/// map: the host writes the image's name and "start", the kernel (a stand-in thread over a stand-in
/// /sys/class/remoteproc, as the mechanism's own tests use: no kernel here has a remoteproc) loads the image into the
/// regions and answers "running", the host finds the table where the image's section says and serves it, and "stop"
/// is written when the session ends. A core the kernel already runs is attached to and left running.
/// </summary>
[NonParallelizable]
public class BoardSysfsCoreTests
{
    private const ulong McuRam2 = 0x1000_0000;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private Stm32BoardStandIn _board = null!;
    private RemoteprocSysfsStandIn _sysfs = null!;

    [SetUp]
    public void SetUp()
    {
        _board = new Stm32BoardStandIn(fileRegions: false, board =>
            board["core"] = new JsonObject
            {
                ["mechanism"] = "sysfs-remoteproc", ["remoteproc"] = "m4",
                ["firmware"] = new JsonObject { ["directory"] = "FIRMWARE", ["image"] = "ampcan-m4.elf" },
            });
        _sysfs = new RemoteprocSysfsStandIn();
    }

    [TearDown]
    public void TearDown()
    {
        _sysfs.Dispose();
        _board.Dispose();
    }

    // The board's firmware directory is the stand-in's; the kernel's search path has it.
    private BoardDescriptor Board() => _board.Board with
    {
        Core = _board.Board.Core! with { Firmware = new FirmwareSpec { Directory = _board.Directory, Image = "ampcan-m4.elf" } },
    };

    private BoardHostOptions Options() => new()
    {
        PhysicalMemoryPath = _board.PhysicalMemory,
        Sysfs = new SysfsRemoteprocOptions { ClassDirectory = _sysfs.ClassDirectory, FirmwareSearchPath = [_board.Directory], StateTimeout = Patience },
    };

    private void WriteImage()
    {
        byte[] table = new ResourceTableBuilder()
            .Vdev(VirtioRpmsg.DeviceId, 2, 1u << VirtioRpmsg.FeatureNameService, [new VringSpec(0x1004_0000, 16, 16, 0), new VringSpec(0x1004_1000, 16, 16, 1)])
            .Build();
        File.WriteAllBytes(_board.FirmwareImage, new ElfBuilder(ElfClass.Elf32, entry: 0x1)
            .Segment(0x0, [1, 2, 3, 4]).SectionInSegment(".text", 0, 0, 4)
            .Segment(McuRam2, table, flags: FlagRead | FlagWrite).SectionInSegment(".resource_table", 1, 0, table.Length)
            .Build().Bytes);
    }

    // What the kernel does on "start": rproc_elf_load_segments into the carveouts (RETRAM at da 0, the MCU SRAM up to the
    // rpmsg buffers), through its own mapping of the same memory.
    private void KernelLoads()
    {
        using MappedRegion retram = MappedRegion.MapPhysical(0x3800_0000, 0x10000, 0x0, _board.PhysicalMemory);
        using MappedRegion sram = MappedRegion.MapPhysical(McuRam2, 0x46000, McuRam2, _board.PhysicalMemory);
        FirmwareLoader.Load(ElfImage.Load(_board.FirmwareImage), new MemoryMap(retram.Io, sram.Io));
    }

    [Test]
    public void TheKernelStartsTheCoreFromTheImageAndTheHostServesItsTableThenStopsIt()
    {
        WriteImage();
        string m4 = _sysfs.Add(0, "m4");
        using var kernel = new StandInKernel(m4, command =>
        {
            if (command == "start") KernelLoads();
            return command == "start" ? "running" : "offline";
        }, TimeSpan.Zero);

        BoardHost host = BoardHost.Start(Board(), Options());
        try
        {
            Assert.That(kernel.Seen.TryTake(out var start, Patience), Is.True);
            Assert.That(start, Is.EqualTo(("start", "ampcan-m4.elf")), "the image's name written to firmware before start");
            Assert.That((host.Core!.Started, host.Core.Loaded), Is.EqualTo((true, (LoadedFirmware?)null)), "the kernel loaded it, not the host");
            Assert.That(host.ResourceTable.Window.DeviceAddress, Is.EqualTo(McuRam2), "the table where the image's section is");
            Assert.That(host.ResourceTable.Vdevs.Single().Status & AmpCan.Vring.VirtioStatus.DriverOk, Is.Not.Zero, "the host drove the vdev the kernel left alone");
        }
        finally
        {
            host.Dispose();
        }
        Assert.That(kernel.Seen.TryTake(out var stop, Patience), Is.True, "nothing was written to state when the session ended");
        Assert.That(stop.Command, Is.EqualTo("stop"));
        Assert.That(SpinWait.SpinUntil(() => RemoteprocSysfsStandIn.Read(m4, "state") == "offline", Patience), Is.True);
    }

    [Test]
    public void ACoreTheKernelRunsAlreadyIsAttachedToAndLeftRunning()
    {
        WriteImage();
        KernelLoads(); // booted by the kernel at probe (auto-boot)
        string m4 = _sysfs.Add(0, "m4", state: "running");
        using var kernel = StandInKernel.Obliging(m4);

        BoardHost host = BoardHost.Start(Board(), Options());
        try
        {
            Assert.That((host.Core!.Started, host.ResourceTable.Window.DeviceAddress), Is.EqualTo((false, McuRam2)));
        }
        finally
        {
            host.Dispose();
        }
        Assert.That(kernel.Seen, Is.Empty, "neither start nor stop was written");
        Assert.That(RemoteprocSysfsStandIn.Read(m4, "state"), Is.EqualTo("running"));
    }
}

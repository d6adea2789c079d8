using System.Text.RegularExpressions;
using AmpCan.Host.Boards;
using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Boards;
using AmpCan.Remoteproc.Firmware;
using AmpCan.Remoteproc.Lifecycle;
using AmpCan.Rpmsg;
using AmpCan.SharedMem;
using AmpCan.Tests.Remoteproc.Firmware;
using Microsoft.Extensions.Logging.Abstractions;
using static AmpCan.Remoteproc.Firmware.Wire.ElfLayout;
using static AmpCan.Tests.Host.Stm32BoardStandIn;

namespace AmpCan.Tests.Host;

/// <summary>
/// A board session's core dump holds every region of the core (an alias once), read back with binutils' readelf: the
/// machine and entry of the image the host loaded into a real core (STM32MP157C-DK2 through devmem-registers, over file
/// stand-ins), EM_NONE for a simulated core.
/// </summary>
[NonParallelizable]
[CancelAfter(120_000)]
public class BoardCoredumpTests
{
    private static readonly byte[] Code = [.. Enumerable.Range(0, 0x40).Select(i => (byte)(0x80 + i))];
    private string _dumps = null!;

    [SetUp]
    public void MakeDirectory() => _dumps = Directory.CreateTempSubdirectory("ampcan-board-dumps-").FullName;

    [TearDown]
    public void RemoveDirectory() => Directory.Delete(_dumps, recursive: true);

    [Test]
    public void ALoadedRealCoreIsDumpedRegionByRegionAsAnArmCoreAtItsEntry()
    {
        using var board = new Stm32BoardStandIn(fileRegions: true);
        byte[] table = new ResourceTableBuilder()
            .Vdev(VirtioRpmsg.DeviceId, 2, 1u << VirtioRpmsg.FeatureNameService, [new VringSpec(0x1004_0000, 16, 16, 0), new VringSpec(0x1004_1000, 16, 16, 1)])
            .Build();
        File.WriteAllBytes(board.FirmwareImage, new ElfBuilder(ElfClass.Elf32, entry: 0x41)
            .Segment(0x0, Code).SectionInSegment(".text", 0, 0, Code.Length)
            .Segment(0x1000_0000, table, flags: FlagRead | FlagWrite).SectionInSegment(".resource_table", 1, 0, table.Length)
            .Build().Bytes);
        using (MappedRegion regs = board.MapRegisters()) regs.Io.WriteU32Release(McuPdds, 0x1);

        using BoardSession session = BoardSession.Start(board.Board, new BoardHostOptions { PhysicalMemoryPath = board.PhysicalMemory }, null, CoreStartMode.Boot, default);
        CoredumpResult dump = session.WriteCoredump(new CoredumpDirectory(_dumps, CoredumpMode.Enabled, 2, NullLogger.Instance));

        Assert.That(dump.Outcome, Is.EqualTo(CoredumpOutcome.Written), dump.Error);
        string output = Readelf(dump.Path!);
        Assert.Multiple(() =>
        {
            Assert.That(output, Does.Match(@"Machine:\s+ARM"), "the loaded image's e_machine");
            Assert.That(output, Does.Match(@"Entry point address:\s+0x41\b"), "the loaded image's entry");
            // The shipped board's five regions (retram, mcuram2, the two vring regions, vdev0buffer); mcuram, the
            // alias of mcuram2 at 0x30000000, is the same memory and not dumped again.
            Assert.That(Loads(output), Is.EqualTo(new[] { (0x0UL, 0x10000UL), (0x1000_0000UL, 0x40000UL), (0x1004_0000UL, 0x1000UL), (0x1004_1000UL, 0x1000UL), (0x1004_2000UL, 0x4000UL) }));
        });
        // The bytes are the core's memory: the code the host loaded at da 0, the table at mcuram2's base.
        Assert.That(DumpedAt(dump.Path!, output, 0x0, Code.Length), Is.EqualTo(Code));
        Assert.That(DumpedAt(dump.Path!, output, 0x1000_0000, 16), Is.EqualTo(table[..16]));
    }

    [Test]
    public void ASimulatedCoreIsDumpedRegionByRegionWithNoMachine()
    {
        BoardDescriptor r5 = BoardFile.Load(Path.Combine(TestContext.CurrentContext.TestDirectory, "boards", "sim-two-cores.json")).Cores[1];
        using BoardSession session = BoardSession.Start(r5, new BoardHostOptions { Remote = RemoteKind.Simulated }, null, CoreStartMode.Boot, default);
        session.Host.Regions.Window("firmware").Write(0x100, Code);
        CoredumpResult dump = session.WriteCoredump(new CoredumpDirectory(_dumps, CoredumpMode.Enabled, 2, NullLogger.Instance));

        Assert.That(dump.Outcome, Is.EqualTo(CoredumpOutcome.Written), dump.Error);
        string output = Readelf(dump.Path!);
        Assert.Multiple(() =>
        {
            Assert.That(output, Does.Match(@"Machine:\s+None"), "no image: EM_NONE");
            Assert.That(Loads(output), Is.EqualTo(new[] { (0x0UL, 0x40000UL), (0x3000_0000UL, 0x100000UL) }), "the firmware region and the IPC region");
        });
        Assert.That(DumpedAt(dump.Path!, output, 0x100, Code.Length), Is.EqualTo(Code), "the firmware region's bytes");
    }

    private static string Readelf(string path)
    {
        var (code, output, error) = KernelVmHarness.Run("readelf", ["-h", "-l", "-W", path], TimeSpan.FromSeconds(30));
        Assert.That((code, error), Is.EqualTo((0, "")), output);
        Assert.That(output, Does.Contain("CORE (Core file)"));
        return output;
    }

    private static readonly Regex Load = new(@"LOAD\s+0x(?<off>[0-9a-f]+) 0x(?<va>[0-9a-f]+) 0x(?<pa>[0-9a-f]+) 0x(?<fs>[0-9a-f]+) 0x(?<ms>[0-9a-f]+) RWE");

    private static (ulong DeviceAddress, ulong Size)[] Loads(string readelf) =>
        [.. Load.Matches(readelf).Select(m => (Hex(m, "va"), Hex(m, "fs")))];

    // The dump's bytes at a device address, found through readelf's program headers.
    private static byte[] DumpedAt(string path, string readelf, ulong deviceAddress, int length)
    {
        Match m = Load.Matches(readelf).Single(m => Hex(m, "va") <= deviceAddress && deviceAddress - Hex(m, "va") < Hex(m, "fs"));
        return ReadFile(path, Hex(m, "off") + deviceAddress - Hex(m, "va"), length);
    }

    private static ulong Hex(Match m, string group) => Convert.ToUInt64(m.Groups[group].Value, 16);
}

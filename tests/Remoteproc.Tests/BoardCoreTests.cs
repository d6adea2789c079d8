using AmpCan.Remoteproc.Firmware;
using AmpCan.Remoteproc.Lifecycle;
using AmpCan.Remoteproc.Boards;
using static AmpCan.Tests.Remoteproc.BoardJsonEdit;

namespace AmpCan.Tests.Remoteproc;

/// <summary>A core's lifecycle section: mechanisms, what each needs, and each check naming the field.</summary>
public class BoardCoreTests
{
    private const string Regions = BoardRegionTests.Regions;

    // STM32MP1's RCC hold-boot and MCU reset, in a window over RCC and PWR.
    private const string DevmemCore = """
        { "mechanism": "devmem-registers",
          "firmware": { "directory": "/lib/firmware", "image": "m4.elf" },
          "registers": { "physicalAddress": "0x50000000", "size": "0x2000",
            "start": [ { "offset": "0x1014", "mask": "0x1", "value": "0x0" }, { "offset": "0x10c", "mask": "0x1", "value": "0x1" } ],
            "stop": [ { "offset": "0x10c", "mask": "0x1", "value": "0x0" }, { "offset": "0x404", "mask": "0xffffffff", "value": "0x2" } ],
            "hold": [ { "offset": "0x10c", "mask": "0x1", "value": "0x0" } ] },
          "recovery": "disabled", "coredump": { "mode": "enabled", "directory": "/var/lib/ampcan/coredump", "maxFiles": 2 }, "watchdogMs": 500 }
        """;

    private const string SysfsCore = """{ "mechanism": "sysfs-remoteproc", "remoteproc": "remoteproc0", "firmware": { "directory": "/lib/firmware", "image": "m4.elf" } }""";

    private static BoardDescriptor Load(string json) => BoardFile.Parse(json, "test.json").Cores.Single();

    private static string Refused(string json) => Assert.Throws<BoardException>(() => BoardFile.Parse(json, "test.json"))!.Message;

    private static void AssertRefused(string json, string field, string problem) =>
        Assert.That(Refused(json), Does.StartWith($"board file 'test.json': {field}: ").And.Contain(problem));

    [Test]
    public void ADevmemRegistersCoreLoads()
    {
        CoreSpec core = Load(With(Regions, ("core", DevmemCore))).EffectiveCore;
        Assert.Multiple(() =>
        {
            Assert.That(core.Mechanism, Is.EqualTo(CoreMechanism.DevmemRegisters));
            Assert.That(core.Registers!.Start.Select(w => (w.Offset, w.Mask, w.Value)), Is.EqualTo(new[] { (0x1014UL, 1UL, 0UL), (0x10cUL, 1UL, 1UL) }));
            Assert.That(core.Registers.Hold, Has.Count.EqualTo(1));
            Assert.That((core.Recovery, core.Coredump.Mode, core.Coredump.MaxFiles, core.WatchdogMs), Is.EqualTo((RecoveryPolicy.Disabled, CoredumpMode.Enabled, 2, 500)));
        });
    }

    [Test]
    public void WithoutACoreTheMechanismFollowsRemoteKind()
    {
        BoardDescriptor openamp = BoardDescriptor.Load(Path.Combine(TestContext.CurrentContext.TestDirectory, "boards", "openamp-linux.json"));
        Assert.That((openamp.Core, openamp.EffectiveCore.Mechanism, openamp.EffectiveCore.Recovery), Is.EqualTo(((CoreSpec?)null, CoreMechanism.External, RecoveryPolicy.Enabled)));
    }

    [TestCase("simulated", RemoteKind.Simulated)]
    [TestCase("simulated-process", RemoteKind.SimulatedProcess)]
    [TestCase("external", RemoteKind.External)]
    [TestCase("attach-only", RemoteKind.External)]
    public void WithoutRemoteKindTheMechanismDecidesIt(string mechanism, RemoteKind kind)
    {
        // The memfd window lets a simulated process have it.
        string memfd = With(BoardDescriptorTestsGood, ("core", $$"""{ "mechanism": "{{mechanism}}" }"""));
        Assert.That(BoardDescriptor.Parse(memfd, "test.json").Remote.Kind, Is.EqualTo(kind));
    }

    private const string BoardDescriptorTestsGood = """
        { "name": "b", "sharedMemory": { "kind": "memfd", "size": "0x100000" },
          "rpmsg": { "bufferPoolOffset": "0x10000" }, "doorbell": { "kind": "event-fd" }, "remote": { "services": { "echo": "rpmsg-echo" } } }
        """;

    [Test]
    public void ARemoteKindDisagreeingWithTheMechanismIsRefused() =>
        AssertRefused(With(BoardDescriptorTestsGood, ("remote.kind", "\"simulated\""), ("core", """{ "mechanism": "attach-only" }""")),
            "core.mechanism", "'attach-only' disagrees with remote.kind 'simulated'");

    [Test]
    public void ARemoteKindAgreeingWithTheMechanismIsAccepted() =>
        Assert.That(Load(With(BoardDescriptorTestsGood, ("remote.kind", "\"external\""), ("core", """{ "mechanism": "attach-only" }"""))).Remote.Kind, Is.EqualTo(RemoteKind.External));

    [Test]
    public void AnUnknownMechanismNamesTheMechanisms()
    {
        string message = Refused(With(Regions, ("core.mechanism", "\"jtag\"")));
        Assert.That(message, Does.StartWith("board file 'test.json': ")
            .And.Contain("'mechanism' must be one of simulated, simulated-process, sysfs-remoteproc, devmem-registers, attach-only, external")
            .And.Contain("at $.core.mechanism"));
    }

    [Test]
    public void DevmemRegistersWithoutRegistersIsRefused() =>
        AssertRefused(With(Regions, ("core", DevmemCore), ("core.registers", null)), "core.registers", "is required for mechanism 'devmem-registers'");

    [Test]
    public void RegistersForAnotherMechanismAreRefused() =>
        AssertRefused(With(Regions, ("core", DevmemCore), ("core.mechanism", "\"attach-only\"")), "core.registers", "is for mechanism 'devmem-registers'; this core's is 'attach-only'");

    [Test]
    public void ARegisterWriteOutsideItsWindowIsRefused() =>
        AssertRefused(With(Regions, ("core", DevmemCore), ("core.registers.start[1].offset", "\"0x2000\"")),
            "core.registers.start[1].offset", "0x2000 puts the 32-bit register at 0x50002000, outside the window [0x50000000, 0x50002000)");

    [Test]
    public void ARegisterWriteStraddlingTheWindowsEndIsRefused() =>
        AssertRefused(With(Regions, ("core", DevmemCore), ("core.registers.size", "\"0x1016\"")), "core.registers.start[0].offset", "outside the window");

    [Test]
    public void ARegisterWriteNotFourAlignedIsRefused() =>
        AssertRefused(With(Regions, ("core", DevmemCore), ("core.registers.stop[1].offset", "\"0x406\"")), "core.registers.stop[1].offset", "0x406 is not a multiple of 4");

    [Test]
    public void ARegisterValueOutsideItsMaskIsRefused() =>
        AssertRefused(With(Regions, ("core", DevmemCore), ("core.registers.hold[0].value", "\"0x3\"")), "core.registers.hold[0].value", "0x3 sets bits outside the mask 0x1");

    [Test]
    public void ARegisterMaskWiderThanThirtyTwoBitsIsRefused() =>
        AssertRefused(With(Regions, ("core", DevmemCore), ("core.registers.hold[0].mask", "\"0x100000000\"")), "core.registers.hold[0].mask", "must be 1 to 0xffffffff");

    [Test]
    public void AStartSequenceWithoutWritesIsRefused() =>
        AssertRefused(With(Regions, ("core", DevmemCore), ("core.registers.start", "[]")), "core.registers.start", "at least one write");

    [Test]
    public void DevmemRegistersWithoutFirmwareIsRefused() =>
        AssertRefused(With(Regions, ("core", DevmemCore), ("core.firmware", null)), "core.firmware", "AmpCan loads the image itself");

    [Test]
    public void SysfsRemoteprocWithoutRemoteprocIsRefused() =>
        AssertRefused(With(Regions, ("core", SysfsCore), ("core.remoteproc", null)), "core.remoteproc", "is required for mechanism 'sysfs-remoteproc'");

    [TestCase("\"remoteproc0\"")]
    [TestCase("\"imx8mp-cm7\"")]
    public void SysfsRemoteprocTakesAnIndexOrAName(string remoteproc) =>
        Assert.That(Load(With(Regions, ("core", SysfsCore), ("core.remoteproc", remoteproc))).EffectiveCore.Remoteproc, Is.EqualTo(remoteproc.Trim('"')));

    [Test]
    public void ARemoteprocPathIsRefused() =>
        AssertRefused(With(Regions, ("core", SysfsCore), ("core.remoteproc", "\"../remoteproc0\"")), "core.remoteproc", "is not a remoteproc's directory or name");

    [TestCase("../m4.elf", "escapes the firmware directory with '..'")]
    [TestCase("ampcan/../../etc/shadow", "escapes the firmware directory with '..'")]
    [TestCase("/lib/firmware/m4.elf", "not an absolute path")]
    [TestCase("ampcan//m4.elf", "empty or '.' path segment")]
    public void AFirmwareImageEscapingItsDirectoryIsRefused(string image, string problem) =>
        AssertRefused(With(Regions, ("core", SysfsCore), ("core.firmware.image", $"\"{image}\"")), "core.firmware.image", problem);

    [Test]
    public void AFirmwareImageInASubdirectoryIsAccepted() =>
        Assert.That(Load(With(Regions, ("core", SysfsCore), ("core.firmware.image", "\"ampcan/m4.elf\""))).EffectiveCore.Firmware!.Image, Is.EqualTo("ampcan/m4.elf"));

    [Test]
    public void AnEnabledCoredumpWithoutADirectoryIsRefused() =>
        AssertRefused(With(Regions, ("core", DevmemCore), ("core.coredump.directory", null)), "core.coredump.directory", "is required when the mode is 'enabled'");

    [Test]
    public void ACoredumpKeepingNoFilesIsRefused() =>
        AssertRefused(With(Regions, ("core", DevmemCore), ("core.coredump.maxFiles", "0")), "core.coredump.maxFiles", "0 must be 1 to 1000");

    [TestCase(5)]
    [TestCase(3_600_001)]
    [TestCase(-1)]
    public void AWatchdogPeriodOutOfRangeIsRefused(int ms) =>
        AssertRefused(With(Regions, ("core", DevmemCore), ("core.watchdogMs", ms.ToString(System.Globalization.CultureInfo.InvariantCulture))), "core.watchdogMs", "must be 0 (off)");

    [Test]
    public void TheServiceServesCoresItStartsAndRefusesATableInAnImageItCannotRead()
    {
        // The host starts sysfs-remoteproc and devmem-registers cores now; a table in the image needs an image it can read.
        Assert.That(BoardDescriptor.Parse(With(Regions, ("core", SysfsCore)), "test.json").EffectiveCore.Mechanism, Is.EqualTo(CoreMechanism.SysfsRemoteproc));
        Assert.That(BoardDescriptor.Parse(With(Regions, ("core", DevmemCore)), "test.json").EffectiveCore.Mechanism, Is.EqualTo(CoreMechanism.DevmemRegisters));
        string noImage = With(Regions, ("core", SysfsCore), ("core.firmware", null), ("resourceTable", """{ "inImage": true }"""));
        Assert.That(Assert.Throws<BoardException>(() => BoardDescriptor.Parse(noImage, "test.json"))!.Message,
            Does.Contain("resourceTable.inImage").And.Contain("core.firmware must name it").And.Contain("does not serve this board yet"));
    }

    [Test]
    public void TheServiceRefusesATableOutsideTheSharedMemory()
    {
        string inImage = With(Regions, ("resourceTable", """{ "inImage": true }"""));
        Assert.That(Assert.Throws<BoardException>(() => BoardDescriptor.Parse(inImage, "test.json"))!.Message, Does.Contain("resourceTable.inImage"));
        Assert.That(BoardDescriptor.Parse(Regions, "test.json").EffectiveRegions, Has.Count.EqualTo(3), "an external core with its table in sharedMemory is served");
    }
}

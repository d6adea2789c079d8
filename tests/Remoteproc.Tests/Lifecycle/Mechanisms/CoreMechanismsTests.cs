using AmpCan.Remoteproc.Boards;
using AmpCan.Remoteproc.Lifecycle.Mechanisms;
using AmpCan.SharedMem;

namespace AmpCan.Tests.Remoteproc.Lifecycle.Mechanisms;

/// <summary>
/// The factory picks each real board's mechanism from its file (sysfs-remoteproc for i.MX8MP against a stand-in of
/// the kernel's files, devmem-registers for STM32MP1 with a memfd for its window), builds attach-only, and refuses the
/// host's own remotes.
/// </summary>
public class CoreMechanismsTests
{
    private static readonly string BoardsDirectory = Path.Combine(Path.GetDirectoryName(typeof(CoreMechanismsTests).Assembly.Location)!, "boards");

    private static CoreSpec Core(string file) => BoardFile.Load(Path.Combine(BoardsDirectory, file)).Cores.Single().Core!;

    [Test]
    public void ASysfsBoardGetsItsRemoteprocByName()
    {
        using var sysfs = new RemoteprocSysfsStandIn();
        sysfs.Add(0, "imx-dsp-rproc");
        string m7 = sysfs.Add(1, "imx8mp-cm7");
        var options = new SysfsRemoteprocOptions { ClassDirectory = sysfs.ClassDirectory, FirmwareSearchPath = KernelFirmwareSearchPath.For(null, null) };
        ICoreMechanism mechanism = CoreMechanisms.For(Core("imx8mp-evk.json"), sysfs: options);

        Assert.That(mechanism, Is.InstanceOf<SysfsRemoteprocMechanism>());
        Assert.That(mechanism.Description, Is.EqualTo("sysfs-remoteproc remoteproc1 (imx8mp-cm7)"));
        using StandInKernel kernel = StandInKernel.Obliging(m7);
        mechanism.Start(null, CancellationToken.None);
        Assert.That(kernel.Seen.TryTake(out var seen, TimeSpan.FromSeconds(10)), Is.True);
        Assert.That(seen, Is.EqualTo(("start", "ampcan-m7.elf")), "the board's default image, in /lib/firmware");
    }

    [Test]
    public void ADevmemBoardGetsItsWindowMappedByTheCaller()
    {
        using MappedRegion memory = MappedRegion.CreateMemfd("rcc", 0x2000, deviceAddress: 0x50000000);
        (ulong, ulong)? asked = null;
        ICoreMechanism mechanism = CoreMechanisms.For(Core("stm32mp157c-dk2.json"), (physical, size) =>
        {
            asked = (physical, size);
            return memory.Io;
        });
        Assert.That(asked, Is.EqualTo(((ulong, ulong)?)(0x50000000UL, 0x2000UL)), "the board's window: RCC at 0x50000000, 8 KiB");
        Assert.That(mechanism, Is.InstanceOf<DevmemRegisterMechanism>());
        memory.Io.WriteU32(0x1014, 1);
        mechanism.Start(null, CancellationToken.None);
        Assert.That(memory.Io.ReadU32(0x1014), Is.Zero, "the window written is the one mapped");
    }

    [Test]
    public void ADevmemBoardWithoutAWindowIsRefused() =>
        Assert.That(Assert.Throws<ArgumentException>(() => CoreMechanisms.For(Core("stm32mp157c-dk2.json")))!.Message, Does.Contain("pass mapRegisters"));

    [Test]
    public void AttachOnlyIsBuilt() =>
        Assert.That(CoreMechanisms.For(new CoreSpec { Mechanism = CoreMechanism.AttachOnly }), Is.InstanceOf<AttachOnlyMechanism>());

    [TestCase(CoreMechanism.Simulated, "simulated")]
    [TestCase(CoreMechanism.SimulatedProcess, "simulated-process")]
    [TestCase(CoreMechanism.External, "external")]
    public void TheHostsOwnRemotesHaveNoMechanism(CoreMechanism kind, string name) =>
        Assert.That(Assert.Throws<ArgumentException>(() => CoreMechanisms.For(new CoreSpec { Mechanism = kind }))!.Message,
            Does.Contain($"mechanism '{name}' is not a real core's: the host runs simulated"));
}

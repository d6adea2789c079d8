using AmpCan.Remoteproc.Boards;
using AmpCan.Remoteproc.Lifecycle.Mechanisms;

namespace AmpCan.Tests.Remoteproc.Lifecycle.Mechanisms;

/// <summary>
/// The sysfs-remoteproc mechanism against a temporary directory laid out as /sys/class/remoteproc (remoteprocN links
/// to device directories holding name, firmware and state), with a thread standing in for the kernel where a command
/// needs an answer. This is a stand-in for the kernel's files: no kernel here has a remoteproc device (neither this
/// machine nor the QEMU x86 guest of tests/kernel-vm has one), so the kernel's side (loading the image, its refusals,
/// the real state machine) is not exercised; the files' names, the words written and the order of the writes are the
/// kernel's (remoteproc_sysfs.c). Two tests point a file at a real kernel file that refuses the write.
/// </summary>
public class SysfsRemoteprocMechanismTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private static readonly IReadOnlyList<string> SearchPath = KernelFirmwareSearchPath.For(null, "6.1.0-test");
    private static readonly FirmwareSpec Firmware = new() { Directory = "/lib/firmware/ampcan", Image = "m4.elf" };

    private RemoteprocSysfsStandIn _sysfs = null!;

    [SetUp]
    public void SetUp() => _sysfs = new RemoteprocSysfsStandIn();

    [TearDown]
    public void TearDown() => _sysfs.Dispose();

    private SysfsRemoteprocMechanism Mechanism(string remoteproc, FirmwareSpec? firmware = null, TimeSpan? timeout = null) =>
        new(remoteproc, firmware, new SysfsRemoteprocOptions
        {
            ClassDirectory = _sysfs.ClassDirectory,
            FirmwareSearchPath = SearchPath,
            StateTimeout = timeout ?? Patience,
        });

    private static (string Command, string Firmware) NextSeen(StandInKernel kernel)
    {
        Assert.That(kernel.Seen.TryTake(out var seen, Patience), Is.True, "the stand-in kernel saw no command");
        return seen;
    }

    [Test]
    public void FindsTheRemoteprocByItsName()
    {
        _sysfs.Add(0, "r5f");
        string m4 = _sysfs.Add(1, "m4");
        SysfsRemoteprocMechanism mechanism = Mechanism("m4");
        Assert.That((mechanism.Directory, mechanism.RprocName, mechanism.Description), Is.EqualTo((m4, "m4", "sysfs-remoteproc remoteproc1 (m4)")));
    }

    [Test]
    public void FindsTheRemoteprocByItsIndex()
    {
        _sysfs.Add(0, "r5f");
        _sysfs.Add(1, "m4");
        Assert.That(Mechanism("remoteproc0").RprocName, Is.EqualTo("r5f"));
    }

    [Test]
    public void AnUnknownNameListsTheRemoteprocsThatExist()
    {
        _sysfs.Add(10, "dsp");
        _sysfs.Add(2, "m4");
        string message = Assert.Throws<CoreMechanismException>(() => Mechanism("imx8mp-cm7"))!.Message;
        Assert.That(message, Does.Contain("'imx8mp-cm7'").And.Contain("found: remoteproc2 (m4), remoteproc10 (dsp)"));
    }

    [Test]
    public void AnUnknownIndexListsTheRemoteprocsThatExist()
    {
        _sysfs.Add(0, "m4");
        Assert.That(Assert.Throws<CoreMechanismException>(() => Mechanism("remoteproc3"))!.Message,
            Does.Contain("no " + Path.Combine(_sysfs.ClassDirectory, "remoteproc3")).And.Contain("found: remoteproc0 (m4)"));
    }

    [Test]
    public void ANameTwoRemoteprocsShareIsAmbiguous()
    {
        _sysfs.Add(0, "r5f");
        _sysfs.Add(1, "r5f");
        Assert.That(Assert.Throws<CoreMechanismException>(() => Mechanism("r5f"))!.Message,
            Does.Contain("remoteproc0, remoteproc1").And.Contain("remoteprocN"));
    }

    [Test]
    public void AKernelWithoutRemoteprocSaysSo()
    {
        Directory.Delete(_sysfs.ClassDirectory);
        Assert.That(Assert.Throws<CoreMechanismException>(() => Mechanism("m4"))!.Message, Does.Contain("does not exist").And.Contain("CONFIG_REMOTEPROC"));
        Directory.CreateDirectory(_sysfs.ClassDirectory);
        Assert.That(Assert.Throws<CoreMechanismException>(() => Mechanism("m4"))!.Message, Does.Contain("is empty"));
    }

    [TestCase("offline", CoreRunState.Offline)]
    [TestCase("running", CoreRunState.Running)]
    [TestCase("attached", CoreRunState.Running)]
    [TestCase("detached", CoreRunState.Running)]
    [TestCase("crashed", CoreRunState.Crashed)]
    [TestCase("suspended", CoreRunState.Unknown)]
    [TestCase("invalid", CoreRunState.Unknown)]
    public void ProbeReadsTheKernelsState(string state, CoreRunState expected)
    {
        _sysfs.Add(0, "m4", state);
        Assert.That(Mechanism("m4").Probe(), Is.EqualTo(expected));
    }

    [Test]
    public void StartWritesTheImageNameThenStartAndWaitsUntilRunning()
    {
        string rproc = _sysfs.Add(0, "m4");
        SysfsRemoteprocMechanism mechanism = Mechanism("m4", Firmware);
        using StandInKernel kernel = StandInKernel.Obliging(rproc);

        mechanism.Start(null, CancellationToken.None);

        // The kernel saw "start" with the name already in firmware: the name relative to /lib/firmware, which it searches.
        Assert.That(NextSeen(kernel), Is.EqualTo(("start", "ampcan/m4.elf")));
        Assert.That((RemoteprocSysfsStandIn.Read(rproc, "state"), mechanism.Probe()), Is.EqualTo(("running", CoreRunState.Running)));
    }

    [Test]
    public void StartWritesAnotherImageOfTheSameDirectory()
    {
        string rproc = _sysfs.Add(0, "m4");
        SysfsRemoteprocMechanism mechanism = Mechanism("m4", Firmware);
        using StandInKernel kernel = StandInKernel.Obliging(rproc);
        mechanism.Start("test/echo.elf", CancellationToken.None);
        Assert.That(NextSeen(kernel), Is.EqualTo(("start", "ampcan/test/echo.elf")));
    }

    [Test]
    public void WithoutAFirmwareDirectoryStartLeavesTheKernelsImage()
    {
        string rproc = _sysfs.Add(0, "m4", firmware: "am62-mcu-m4f0_0-fw");
        SysfsRemoteprocMechanism mechanism = Mechanism("m4");
        using StandInKernel kernel = StandInKernel.Obliging(rproc);
        mechanism.Start(null, CancellationToken.None);
        Assert.That(NextSeen(kernel), Is.EqualTo(("start", "am62-mcu-m4f0_0-fw")));

        // Another image cannot be named: where it is in the kernel's search path is unknown.
        _sysfs.Add(1, "r5f");
        Assert.That(Assert.Throws<CoreMechanismException>(() => Mechanism("r5f").Start("x.elf", CancellationToken.None))!.Message,
            Does.Contain("names no firmware directory"));
    }

    [TestCase("../m4.elf")]
    [TestCase("/lib/firmware/m4.elf")]
    [TestCase("a//b.elf")]
    [TestCase("m4.elf\nstart")]
    public void AnImageOutsideTheDirectoryIsRefusedBeforeAnythingIsWritten(string image)
    {
        string rproc = _sysfs.Add(0, "m4");
        Assert.That(Assert.Throws<CoreMechanismException>(() => Mechanism("m4", Firmware).Start(image, CancellationToken.None))!.Message,
            Does.Contain("must be a relative file name inside '/lib/firmware/ampcan'"));
        Assert.That((RemoteprocSysfsStandIn.Read(rproc, "firmware"), RemoteprocSysfsStandIn.Read(rproc, "state")), Is.EqualTo(("rproc-fw", "offline")));
    }

    [Test]
    public void AFirmwareDirectoryTheKernelDoesNotSearchIsRefusedAtOnce()
    {
        _sysfs.Add(0, "m4");
        string message = Assert.Throws<CoreMechanismException>(() => Mechanism("m4", Firmware with { Directory = "/opt/ampcan/firmware" }))!.Message;
        Assert.That(message, Does.Contain("'/opt/ampcan/firmware' is not one the kernel's firmware loader searches")
            .And.Contain("/lib/firmware/updates/6.1.0-test").And.Contain("firmware_class.path=/opt/ampcan/firmware"));
    }

    [TestCase("running")]
    [TestCase("attached")]
    [TestCase("detached")]
    public void StartRefusesACoreThatRunsAndWritesNothing(string state)
    {
        string rproc = _sysfs.Add(0, "m4", state);
        Assert.That(Assert.Throws<CoreMechanismException>(() => Mechanism("m4", Firmware).Start(null, CancellationToken.None))!.Message,
            Does.Contain($"it runs already (state '{state}'); attach to it instead"));
        Assert.That((RemoteprocSysfsStandIn.Read(rproc, "firmware"), RemoteprocSysfsStandIn.Read(rproc, "state")), Is.EqualTo(("rproc-fw", state)));
    }

    [Test]
    public void StartRefusesACrashedCoreNamingRecovery()
    {
        string rproc = _sysfs.Add(0, "m4", "crashed");
        Assert.That(Assert.Throws<CoreMechanismException>(() => Mechanism("m4", Firmware).Start(null, CancellationToken.None))!.Message,
            Does.Contain("it crashed").And.Contain("'recover' is written to " + Path.Combine(rproc, "recovery")));
    }

    [Test]
    public void AStateThatNeverBecomesRunningTimesOutNamingIt()
    {
        string rproc = _sysfs.Add(0, "m4");
        SysfsRemoteprocMechanism mechanism = Mechanism("m4", Firmware, timeout: TimeSpan.FromMilliseconds(300));
        using var kernel = new StandInKernel(rproc, _ => "crashed", TimeSpan.FromMilliseconds(20));
        string message = Assert.Throws<CoreMechanismException>(() => mechanism.Start(null, CancellationToken.None))!.Message;
        Assert.That(message, Does.Contain("after 'start' was written to " + Path.Combine(rproc, "state"))
            .And.Contain("it stayed 'crashed' for 0.3 s instead of becoming 'running'"));
    }

    [Test]
    public void WaitingForTheStateIsCancellable()
    {
        _sysfs.Add(0, "m4");
        SysfsRemoteprocMechanism mechanism = Mechanism("m4", Firmware, timeout: TimeSpan.FromMinutes(5));
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(100)); // nothing answers: only the cancellation ends the wait
        Assert.That(() => mechanism.Start(null, cancel.Token), Throws.InstanceOf<OperationCanceledException>());
    }

    [TestCase("running")]
    [TestCase("attached")]
    public void StopWritesStopAndWaitsUntilOffline(string state)
    {
        string rproc = _sysfs.Add(0, "m4", state);
        SysfsRemoteprocMechanism mechanism = Mechanism("m4");
        using StandInKernel kernel = StandInKernel.Obliging(rproc);
        mechanism.Stop();
        Assert.That(NextSeen(kernel).Command, Is.EqualTo("stop"));
        Assert.That(mechanism.Probe(), Is.EqualTo(CoreRunState.Offline));
    }

    [Test]
    public void StopOfAnOfflineCoreWritesNothing()
    {
        string rproc = _sysfs.Add(0, "m4");
        File.WriteAllText(Path.Combine(rproc, "state"), "offline"); // no newline: a write would change the bytes
        Mechanism("m4").Stop();
        Assert.That(File.ReadAllText(Path.Combine(rproc, "state")), Is.EqualTo("offline"));
    }

    [TestCase("detached", "write 'start'")]
    [TestCase("crashed", "recover")]
    public void StopSaysWhatCanStopACoreTheKernelCannot(string state, string advice)
    {
        string rproc = _sysfs.Add(0, "m4", state);
        Assert.That(Assert.Throws<CoreMechanismException>(() => Mechanism("m4").Stop())!.Message, Does.Contain("the kernel cannot stop").And.Contain(advice));
        Assert.That(RemoteprocSysfsStandIn.Read(rproc, "state"), Is.EqualTo(state));
    }

    [Test]
    public void DetachOfAnAttachedCoreWritesDetachAndWaitsUntilDetached()
    {
        string rproc = _sysfs.Add(0, "m4", "attached");
        SysfsRemoteprocMechanism mechanism = Mechanism("m4");
        using StandInKernel kernel = StandInKernel.Obliging(rproc);
        mechanism.Detach();
        Assert.That(NextSeen(kernel).Command, Is.EqualTo("detach"));
        Assert.That((RemoteprocSysfsStandIn.Read(rproc, "state"), mechanism.Probe()), Is.EqualTo(("detached", CoreRunState.Running)));
    }

    [Test]
    public void DetachLeavesACoreTheKernelBootedRunning()
    {
        // Linux detaches only from a core it attached to; one it booted runs on untouched.
        string rproc = _sysfs.Add(0, "m4", "running");
        Mechanism("m4").Detach();
        Assert.That(RemoteprocSysfsStandIn.Read(rproc, "state"), Is.EqualTo("running"));
        _sysfs.Add(1, "r5f", "offline");
        Assert.That(Assert.Throws<CoreMechanismException>(() => Mechanism("r5f").Detach())!.Message, Does.Contain("it is 'offline', not running"));
    }

    [Test]
    public void AWriteTheKernelRefusesNamesTheFileAndWhatToDo()
    {
        // A real kernel file with no store operation: the kernel refuses to open it for writing, even for root.
        const string readOnly = "/sys/devices/system/cpu/online";
        if (!File.Exists(readOnly)) Assert.Ignore($"{readOnly} is missing (no sysfs here): the kernel's refusal cannot be had");
        string rproc = _sysfs.Add(0, "m4");
        File.Delete(Path.Combine(rproc, "firmware"));
        File.CreateSymbolicLink(Path.Combine(rproc, "firmware"), readOnly);
        string message = Assert.Throws<CoreMechanismException>(() => Mechanism("m4", Firmware).Start(null, CancellationToken.None))!.Message;
        TestContext.Out.WriteLine(message);
        Assert.That(message, Does.Contain($"cannot write 'ampcan/m4.elf' to {Path.Combine(rproc, "firmware")}: permission denied")
            .And.Contain(Environment.IsPrivilegedProcess ? "even to root" : "run AmpCan as root"));
        Assert.That(RemoteprocSysfsStandIn.Read(rproc, "state"), Is.EqualTo("offline"), "start is not written after the image name failed");
    }

    [Test]
    public void AFailedWriteNamesTheFileAndTheKernelsReason()
    {
        // /dev/full fails every write with ENOSPC: a write that opens and then fails, as a refused "start" does.
        if (!File.Exists("/dev/full")) Assert.Ignore("/dev/full is missing: no write can be made to fail here");
        string rproc = _sysfs.Add(0, "m4");
        File.Delete(Path.Combine(rproc, "firmware"));
        File.CreateSymbolicLink(Path.Combine(rproc, "firmware"), "/dev/full");
        string message = Assert.Throws<CoreMechanismException>(() => Mechanism("m4", Firmware).Start(null, CancellationToken.None))!.Message;
        TestContext.Out.WriteLine(message);
        Assert.That(message, Does.Contain($"writing 'ampcan/m4.elf' to {Path.Combine(rproc, "firmware")} failed").And.Contain("only while the core is offline"));
    }

    [Test]
    public void AMissingAttributeIsNotCreated()
    {
        string rproc = _sysfs.Add(0, "m4");
        File.Delete(Path.Combine(rproc, "firmware"));
        Assert.That(Assert.Throws<CoreMechanismException>(() => Mechanism("m4", Firmware).Start(null, CancellationToken.None))!.Message,
            Does.Contain(Path.Combine(rproc, "firmware")));
        Assert.That(File.Exists(Path.Combine(rproc, "firmware")), Is.False);
    }
}

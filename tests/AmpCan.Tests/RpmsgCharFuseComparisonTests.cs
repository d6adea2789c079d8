using AmpCan.Host.Control;

namespace AmpCan.Tests.Host;

/// <summary>
/// The rpmsg_char comparison on this machine: the service on the sim board (its simulated remote in a process of its
/// own) serves the files through its FUSE front end, and the C and the Python program run the fixed script against them,
/// a crash in the middle reported through the control socket (<c>ampcan crash</c>) and recovered by the service's own
/// policy. Each transcript must be the kernel's (tests/rpmsg-char/expected.txt), byte for byte.
/// </summary>
[TestFixture, NonParallelizable]
public class RpmsgCharFuseComparisonTests
{
    private static readonly TimeSpan ProgramLimit = TimeSpan.FromMinutes(3);
    private string _dir = null!;
    private string _files = null!;
    private string _socket = null!;
    private ServiceProcess _service = null!;

    [OneTimeSetUp]
    public void StartTheService()
    {
        if (Environment.UserName != "root" || !File.Exists("/dev/fuse"))
            Assert.Ignore("the FUSE front end needs /dev/fuse and root (mount(2) of a FUSE file system with allow_other); this machine or user has not");
        _dir = Path.Combine(Path.GetTempPath(), $"ampcan-chardev-{Guid.NewGuid():N}"[..28]);
        Directory.CreateDirectory(_dir);
        _files = Path.Combine(_dir, "rpmsg");
        _socket = Path.Combine(_dir, "ampcan.sock");
        _service = ServiceProcess.Start(_dir, new Dictionary<string, string>
        {
            ["AmpCan__ControlSocket"] = _socket,
            ["AmpCan__RpmsgChar__FrontEnd"] = "fuse",
            ["AmpCan__RpmsgChar__Directory"] = _files,
            ["AmpCan__RpmsgChar__Group"] = "1234",
            ["AmpCan__RpmsgChar__Mode"] = "0660",
        }, "--board", "sim", "--remote", "simulated-process");
        _service.WaitForLine("rpmsg_char files in", TimeSpan.FromSeconds(60));
        _service.WaitForLine("channel 'rpmsg-echo' announced", TimeSpan.FromSeconds(60));
        // The remote's rpmsg-raw channel (announced after rpmsg-echo) has its device: another process's doing, looked for.
        Assert.That(SpinWait.SpinUntil(() => File.Exists(Path.Combine(_files, "rpmsg0")), TimeSpan.FromSeconds(60)), Is.True,
            $"no rpmsg0 for the remote's rpmsg-raw channel; the service said:\n{_service.Output}");
    }

    [OneTimeTearDown]
    public void RemoveTheDirectory()
    {
        if (_dir is null) return;
        _service?.Dispose(); // killed if a test left it running: its mount is then dead, and goes with the directory
        if (File.ReadAllText("/proc/self/mountinfo").Contains(_files, StringComparison.Ordinal)) AmpCan.SharedMem.FuseDevice.Unmount(_files);
        Directory.Delete(_dir, recursive: true);
    }

    [Test, Order(2)]
    public void TheDirectoryListsTheFilesWithTheConfiguredOwnerGroupAndMode()
    {
        string[] names = [.. Directory.GetFiles(_files).Select(Path.GetFileName).Order()!];
        // Their numbers depend on what the programs held open when the remote crashed and recovered, as in Linux.
        Assert.That(names, Has.Length.EqualTo(2).And.One.Match(@"^rpmsg_ctrl\d+$").And.One.Match(@"^rpmsg\d+$"),
            "the control file and the remote's rpmsg-raw channel's device (readdir)");
        foreach (string name in names)
        {
            var stat = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%u %g %a %F", Path.Combine(_files, name)]) { RedirectStandardOutput = true })!;
            string said = stat.StandardOutput.ReadToEnd().Trim();
            Assert.That(stat.WaitForExit(TimeSpan.FromSeconds(30)), Is.True);
            Assert.That(said, Is.EqualTo("0 1234 660 regular empty file"), $"{name}: root, group 1234, 0660 as configured (a regular file: FUSE cannot serve S_ISCHR)");
        }
    }

    [Test, Order(3)]
    public void StoppingWithAClientBlockedInReadAnswersItEpipeAndLeavesNothingMounted()
    {
        // The remote's rpmsg-raw channel's device, whatever its number after the programs' crashes.
        string raw = Directory.GetFiles(_files).Single(f => System.Text.RegularExpressions.Regex.IsMatch(Path.GetFileName(f), @"^rpmsg\d+$"));
        using AmpCan.SharedMem.MessageFile held = AmpCan.SharedMem.MessageFile.Open(raw, 2 /* O_RDWR */, out int errno)
            ?? throw new AssertionException($"open {raw}: errno {errno}");
        var read = Task.Factory.StartNew(() => held.Read(new byte[512]), TaskCreationOptions.LongRunning);
        Assert.That(read.Wait(TimeSpan.FromMilliseconds(300)), Is.False, "nothing to read: the reader waits");
        Assert.That(Tmds.Linux.LibC.kill(_service.Process.Id, Tmds.Linux.LibC.SIGTERM), Is.Zero);
        Assert.That(read.Wait(TimeSpan.FromSeconds(60)), Is.True, "the blocked read was answered at the stop");
        Assert.That(read.Result, Is.EqualTo(-32), "EPIPE: the rpmsg device went before the file system, as the kernel's endpoint does");
        held.Dispose();
        Assert.That(_service.WaitForExit(TimeSpan.FromSeconds(60)), Is.Zero, $"a clean stop; the service said:\n{_service.Output}");
        Assert.That(File.ReadAllText("/proc/self/mountinfo"), Does.Not.Contain(_files), "nothing left mounted");
        Assert.That(_service.Output, Does.Not.Contain("still running after unmount"), "the loop ended once the last file was closed");
    }

    private string CrashCommand => $"dotnet '{CrossProcessVringTests.AmpcanDll}' crash --socket '{_socket}'";

    // Returns once a control file is back; the program closed everything before, as it does for the kernel.
    private string RecoverCommand => $"for i in $(seq 1 1200); do ls '{_files}' 2>/dev/null | grep -q '^rpmsg_ctrl' && exit 0; sleep 0.1; done; exit 1";

    [Order(1)]
    [TestCase(RpmsgCharCasePrograms.Program.C)]
    [TestCase(RpmsgCharCasePrograms.Program.Python)]
    public void TheProgramSeesWhatItSawInTheKernel(RpmsgCharCasePrograms.Program program)
    {
        RpmsgCharCasePrograms.Outcome run = RpmsgCharCasePrograms.Run(program, _files, ProgramLimit, crashCommand: CrashCommand, recoverCommand: RecoverCommand);
        Assert.That(run.ExitCode, Is.Zero, $"the {program} program did not run to its end:\n{run.Transcript}\n{run.Stderr}\nthe service said:\n{_service.Output}");
        RpmsgCharCasePrograms.AssertSameAsKernel(run.Transcript, $"the {program} program against AmpCan's FUSE files");
    }
}

/// <summary>A service killed (SIGKILL) leaves its FUSE directory mounted with nobody behind it; the next one takes it over.</summary>
[TestFixture, NonParallelizable]
public class RpmsgCharDeadMountTests
{
    [Test]
    public void TheNextServiceReplacesTheDeadMountAKilledServiceLeft()
    {
        if (Environment.UserName != "root" || !File.Exists("/dev/fuse"))
            Assert.Ignore("the FUSE front end needs /dev/fuse and root (mount(2) of a FUSE file system with allow_other); this machine or user has not");
        string dir = Path.Combine(Path.GetTempPath(), $"ampcan-deadmount-{Guid.NewGuid():N}"[..30]);
        Directory.CreateDirectory(dir);
        string files = Path.Combine(dir, "rpmsg");
        var environment = new Dictionary<string, string> { ["AmpCan__RpmsgChar__FrontEnd"] = "fuse", ["AmpCan__RpmsgChar__Directory"] = files };
        try
        {
            using (ServiceProcess first = ServiceProcess.Start(dir, environment, "--board", "sim"))
            {
                first.WaitForLine("rpmsg_char files in", TimeSpan.FromSeconds(60));
                first.Process.Kill(entireProcessTree: true);
                first.Process.WaitForExit();
            }
            Assert.That(() => Directory.GetFiles(files), Throws.InstanceOf<IOException>().With.Property("HResult").EqualTo(107), "ENOTCONN: mounted, nobody serving");
            using ServiceProcess second = ServiceProcess.Start(dir, environment, "--board", "sim");
            second.WaitForLine("rpmsg_ctrl0 serves", TimeSpan.FromSeconds(60));
            second.WaitForLine("rpmsg_char files in", TimeSpan.FromSeconds(60));
            Assert.That(second.Output, Does.Contain($"the rpmsg_char directory {files} was left mounted by a service that was killed; unmounted it"));
            Assert.That(File.Exists(Path.Combine(files, "rpmsg_ctrl0")), Is.True, "served again");
            Assert.That(Tmds.Linux.LibC.kill(second.Process.Id, Tmds.Linux.LibC.SIGTERM), Is.Zero);
            Assert.That(second.WaitForExit(TimeSpan.FromSeconds(60)), Is.Zero);
            Assert.That(File.ReadAllText("/proc/self/mountinfo"), Does.Not.Contain(files), "nothing left mounted after a clean stop");
        }
        finally
        {
            if (File.ReadAllText("/proc/self/mountinfo").Contains(files, StringComparison.Ordinal)) AmpCan.SharedMem.FuseDevice.Unmount(files);
            Directory.Delete(dir, recursive: true);
        }
    }
}

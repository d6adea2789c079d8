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
        }, "--board", "sim", "--remote", "simulated-process");
        _service.WaitForLine("rpmsg_char files in", TimeSpan.FromSeconds(60));
        _service.WaitForLine("channel 'rpmsg-echo' announced", TimeSpan.FromSeconds(60));
    }

    [OneTimeTearDown]
    public void StopTheService()
    {
        if (_service is null) return;
        Assert.That(Tmds.Linux.LibC.kill(_service.Process.Id, Tmds.Linux.LibC.SIGTERM), Is.Zero);
        int code = _service.WaitForExit(TimeSpan.FromSeconds(60));
        _service.Dispose();
        bool mounted = File.ReadAllText("/proc/self/mountinfo").Contains(_files, StringComparison.Ordinal);
        Directory.Delete(_dir, recursive: true);
        Assert.That(code, Is.Zero, "a clean stop");
        Assert.That(mounted, Is.False, "nothing left mounted");
    }

    private string CrashCommand => $"dotnet '{CrossProcessVringTests.AmpcanDll}' crash --socket '{_socket}'";

    // Returns once a control file is back; the program closed everything before, as it does for the kernel.
    private string RecoverCommand => $"for i in $(seq 1 1200); do ls '{_files}' 2>/dev/null | grep -q '^rpmsg_ctrl' && exit 0; sleep 0.1; done; exit 1";

    [TestCase(RpmsgCharCasePrograms.Program.C)]
    [TestCase(RpmsgCharCasePrograms.Program.Python)]
    public void TheProgramSeesWhatItSawInTheKernel(RpmsgCharCasePrograms.Program program)
    {
        RpmsgCharCasePrograms.Outcome run = RpmsgCharCasePrograms.Run(program, _files, ProgramLimit, crashCommand: CrashCommand, recoverCommand: RecoverCommand);
        Assert.That(run.ExitCode, Is.Zero, $"the {program} program did not run to its end:\n{run.Transcript}\n{run.Stderr}\nthe service said:\n{_service.Output}");
        RpmsgCharCasePrograms.AssertSameAsKernel(run.Transcript, $"the {program} program against AmpCan's FUSE files");
    }
}

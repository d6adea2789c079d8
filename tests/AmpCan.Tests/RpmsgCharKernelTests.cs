using AmpCan.Host.Service;
using AmpCan.Remoteproc.Boards;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Simulation;
using Microsoft.Extensions.Logging;

namespace AmpCan.Tests.Host;

/// <summary>
/// The rpmsg_char comparison programs (tests/rpmsg-char) against Linux's own rpmsg_char and rpmsg_ctrl, in the virtio-VM
/// guest, with AmpCan serving the remote side over vhost-user as VhostUserGuestTests does: both transcripts must equal
/// expected.txt, the kernel's answers that AmpCan's own front ends are judged by. The remote crash is the guest's
/// rpmsg-crash.sh (the virtio-rpmsg device leaves virtio_rpmsg_bus, as remoteproc's crash handling makes it) and
/// rpmsg-recover.sh brings it back.
/// </summary>
#pragma warning disable CS0618 // Timeout: see tests/TestTimeLimit.cs
[TestFixture, Category("VirtioVm"), NonParallelizable, Timeout(300_000)] // two programs with a crash each in one TCG guest
#pragma warning restore CS0618
public class RpmsgCharKernelTests
{
    private static readonly TimeSpan GuestLimit = TimeSpan.FromSeconds(200);
    private string _dir = null!;
    private string _socket = null!;
    private VhostUserRpmsgService _service = null!;
    private readonly CapturingLoggerFactory _logs = new();

    [OneTimeSetUp]
    public void StartTheBackEnd()
    {
        VirtioVmHarness.RequireGuest("the rpmsg_char comparison against Linux's rpmsg_char");
        _dir = Path.Combine(Path.GetTempPath(), $"ampcan rpmsg-char {Guid.NewGuid():N}"[..28]);
        Directory.CreateDirectory(_dir);
        _socket = Path.Combine(_dir, "rpmsg.sock");
        BoardDescriptor sim = BoardDescriptor.Load(Path.Combine(TestContext.CurrentContext.TestDirectory, "boards", "sim.json"));
        _service = VhostUserRpmsgService.Start([_socket], SimulatedFirmware.For(sim), NotificationMode.Adaptive, _logs);
    }

    [OneTimeTearDown]
    public void StopTheBackEnd()
    {
        _service?.Dispose();
        if (_dir is not null && Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    // Both programs in one boot, one after the other: the second runs on the stack the first one's recovery brought back.
    // rpmsg-up.sh waits for every channel the remote announces (rpmsg-raw among them) before it loads rpmsg_char.
    private const string GuestScript = """
        S=$1
        rpmsg-up.sh --expect rpmsg-echo --expect rpmsg-client-sample --expect rpmsg-raw >&2 || exit 3
        start=$(date +%s%N)
        rpmsg_char_cases --crash-cmd rpmsg-crash.sh --recover-cmd rpmsg-recover.sh >"$S/c.txt"; echo "C-EXIT $?"
        mid=$(date +%s%N)
        python3 "$S/rpmsg_char_cases.py" --crash-cmd rpmsg-crash.sh --recover-cmd rpmsg-recover.sh >"$S/python.txt"; echo "PYTHON-EXIT $?"
        end=$(date +%s%N)
        echo "TIMES c=$(( (mid - start) / 1000000 ))ms python=$(( (end - mid) / 1000000 ))ms"
        echo "KERNEL $(uname -r)"
        kernel-clean.sh
        """;

    [Test]
    public void TheCAndPythonProgramsGetTheKernelsAnswersInExpectedTxt()
    {
        string share = Path.Combine(_dir, "share");
        Directory.CreateDirectory(share);
        File.Copy(RpmsgCharCasePrograms.PythonProgram, Path.Combine(share, "rpmsg_char_cases.py"), overwrite: true);
        var run = VirtioVmHarness.Run([_socket], GuestLimit, ["--share", share], "bash", "-c", GuestScript, "guest", share);
        VirtioVmHarness.AssertGuestRan(run);
        string said = $"\nthe guest said:\n{run.Out}\n{run.Err}";
        TestContext.Out.WriteLine(run.Out);

        Assert.That(run.Out, Does.Contain("C-EXIT 0\n"), "the C program ran its script to the end" + said);
        Assert.That(run.Out, Does.Contain("PYTHON-EXIT 0\n"), "the Python program ran its script to the end" + said);
        string c = File.ReadAllText(Path.Combine(share, "c.txt")), python = File.ReadAllText(Path.Combine(share, "python.txt"));
        Assert.Multiple(() =>
        {
            Assert.That(RpmsgCharCasePrograms.Difference(c, python), Is.Null, "the two programs printed the same transcript");
            Assert.That(RpmsgCharCasePrograms.Difference(c), Is.Null, "the C program's transcript is expected.txt's");
            Assert.That(RpmsgCharCasePrograms.Difference(python), Is.Null, "the Python program's transcript is expected.txt's");
        });
        Assert.That(run.Code, Is.Zero, "the kernel log is clean after both runs, crashes and recoveries included" + said);
        string kernel = VirtioVmHarness.Facts["kernel"];
        Assert.That(RpmsgCharCasePrograms.ExpectedProvenance(), Does.Contain(kernel),
            $"expected.txt was recorded on another kernel than the guest's {kernel}: run the programs there and record it again");
        Assert.That(_logs.AtLeast(LogLevel.Error), Is.Empty, "AmpCan logged errors while serving the guest");
    }
}

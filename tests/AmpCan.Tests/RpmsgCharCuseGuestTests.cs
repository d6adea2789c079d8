namespace AmpCan.Tests.Host;

/// <summary>
/// The rpmsg_char comparison against AmpCan's CUSE devices, in a kernel that has CUSE: Debian's kernel under QEMU
/// (tests/kernel-vm) runs tests/kernel-vm/rpmsg-char-cuse.sh once: the service on the sim board serves /dev/rpmsg_ctrl0
/// and /dev/rpmsgN as character devices, and the C and the Python program run the fixed script against them, a crash in
/// the middle. Each transcript must be the kernel's (tests/rpmsg-char/expected.txt). Skipped, with the reason, when QEMU
/// or the Debian kernel is missing.
/// </summary>
[TestFixture, Category("KernelVm"), NonParallelizable]
public class RpmsgCharCuseGuestTests
{
    private readonly Dictionary<string, string> _results = new();
    private readonly Dictionary<string, List<string>> _lines = new() { ["C"] = [], ["PY"] = [], ["NODE"] = [], ["EXIT-C"] = [], ["EXIT-PY"] = [] };
    private string _output = "";

    [OneTimeSetUp]
    public void RunTheComparisonInTheGuest()
    {
        KernelVmHarness.Prepare("the rpmsg_char CUSE comparison");
        string c = RpmsgCharCasePrograms.CProgram;
        string[] guest = KernelVmHarness.InGuest([Path.GetDirectoryName(c)!], [], Path.Combine(KernelVmHarness.ScriptDirectory, "rpmsg-char-cuse.sh"),
            CrossProcessVringTests.AmpcanDll, c, RpmsgCharCasePrograms.PythonProgram);
        Dictionary<string, string> environment = KernelVmHarness.GuestEnvironment();
        environment["RIK_TIMEOUT"] = "600"; // one boot: the service, both programs with a crash each, under TCG
        var run = KernelVmHarness.Run(guest[0], guest[1..], TimeSpan.FromMinutes(11), environment: environment);
        KernelVmHarness.AssertGuestRan(run);
        _output = run.Out + "\n" + run.Err;
        TestContext.Progress.WriteLine($"rpmsg_char CUSE guest said:\n{_output}");
        foreach (string raw in run.Out.Split('\n'))
        {
            string line = raw.TrimEnd('\r');
            string[] w = line.Split(' ', 3);
            if (w.Length == 3 && w[0] == "RESULT") _results[w[1]] = w[2].Trim();
            else if (w.Length >= 2 && _lines.TryGetValue(w[0], out List<string>? list)) list.Add(line[(w[0].Length + 1)..]);
        }
        Assert.That(run.Code, Is.Zero, $"the guest script failed:\n{_output}");
    }

    private void AssertResult(string check)
    {
        Assert.That(_results.TryGetValue(check, out string? r), Is.True, $"the guest never reported '{check}':\n{_output}");
        Assert.That(r, Does.StartWith("pass"), $"{check}: {r}\n{_output}");
    }

    private string Transcript(string program) => string.Join('\n', _lines[program]) + "\n";

    [Test]
    public void TheDevicesAreCharacterDevicesWithTheConfiguredGroupAndMode()
    {
        AssertResult("up");
        string? ctrl = _lines["NODE"].FirstOrDefault(l => l.EndsWith("/dev/rpmsg_ctrl0", StringComparison.Ordinal));
        Assert.That(ctrl, Is.Not.Null, _output);
        Assert.That(ctrl, Does.Match(@"^crw-rw---- 1 0 1234 +\d+, +\d+ .*/dev/rpmsg_ctrl0$"), "a character device, root:1234 0660 as configured");
        Assert.That(_lines["NODE"], Has.Some.Match(@"^crw-rw---- 1 0 1234 .*/dev/rpmsg0$"), "the remote's rpmsg-raw channel got its device");
    }

    [TestCase("C")]
    [TestCase("PY")]
    public void TheProgramSeesWhatItSawInTheKernel(string program)
    {
        Assert.That(_lines[$"EXIT-{program}"], Is.EqualTo(new[] { "0" }), $"the {program} program did not run to its end:\n{_output}");
        RpmsgCharCasePrograms.AssertSameAsKernel(Transcript(program), $"the {program} program against AmpCan's CUSE devices");
    }

    [Test]
    public void TheServiceStopsCleanlyLeavingNoDeviceAndNoProcess()
    {
        AssertResult("stopped");
        AssertResult("nothing-left");
        AssertResult("no-process");
    }
}

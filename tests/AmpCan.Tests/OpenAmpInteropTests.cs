namespace AmpCan.Tests.Host;

/// <summary>
/// AmpCan against OpenAMP's own Linux-port demos (openamp-system-reference examples/legacy_apps), run inside Debian's
/// kernel under QEMU by tests/kernel-vm/openamp-interop.sh: OpenAMP's rpmsg-echo served to <c>ampcan echo-test</c>, and
/// <c>ampcan remote-sim</c> serving OpenAMP's rpmsg-ping. OpenAMP is not ours to ship, so the binaries come from the
/// environment: AMPCAN_OPENAMP_DIR names a directory (anywhere; the guest gets it mounted read-only) holding
/// rpmsg-echo-static, msg-test-rpmsg-ping-static and the libopen_amp/libmetal shared objects. Without it the fixture
/// is skipped and says so.
/// </summary>
[TestFixture, Category("KernelVm"), NonParallelizable]
public class OpenAmpInteropTests
{
    private readonly Dictionary<string, string> _results = new();
    private string _output = "";

    [OneTimeSetUp]
    public void RunTheScenariosInTheGuest()
    {
        string? dir = Environment.GetEnvironmentVariable("AMPCAN_OPENAMP_DIR");
        if (string.IsNullOrEmpty(dir))
            Assert.Ignore("OpenAMP interop needs OpenAMP's Linux-port demos: set AMPCAN_OPENAMP_DIR to a directory with rpmsg-echo-static, "
                          + "msg-test-rpmsg-ping-static and libopen_amp/libmetal (built from openamp-system-reference examples/legacy_apps with -DMACHINE=generic -DWITH_TESTS=ON -DWITH_EXAMPLES=ON)");
        dir = Path.GetFullPath(dir);
        foreach (string f in new[] { "rpmsg-echo-static", "msg-test-rpmsg-ping-static" })
            Assert.That(File.Exists(Path.Combine(dir, f)), Is.True, $"AMPCAN_OPENAMP_DIR={dir} has no {f}");

        KernelVmHarness.Prepare("OpenAMP interop");
        string[] guest = KernelVmHarness.InGuest([dir], [], Path.Combine(KernelVmHarness.ScriptDirectory, "openamp-interop.sh"), dir, CrossProcessVringTests.AmpcanDll);
        var run = KernelVmHarness.Run(guest[0], guest[1..], TimeSpan.FromMinutes(15), environment: KernelVmHarness.GuestEnvironment());
        KernelVmHarness.AssertGuestRan(run);
        _output = run.Out + run.Err;
        TestContext.Progress.WriteLine($"OpenAMP interop guest said:\n{_output}");
        foreach (string line in run.Out.Split('\n'))
        {
            string[] w = line.Split(' ', 4);
            if (w.Length >= 3 && w[0] == "RESULT") _results[w[1]] = w[2] + (w.Length > 3 ? " " + w[3].Trim() : "");
        }
    }

    private void AssertPassed(string scenario) =>
        Assert.That(_results.GetValueOrDefault(scenario, "missing"), Does.StartWith("pass"), $"scenario {scenario}; the guest said:\n{_output}");

    /// <summary>OpenAMP against itself: proves the demos and the guest are set up right.</summary>
    [Test]
    public void OpenAmpEchoServesOpenAmpPing() => AssertPassed("A");

    /// <summary>AmpCan's host (driver role) checks every size 1..496 through OpenAMP's rpmsg-echo, then stops it.</summary>
    [Test]
    public void AmpCanHostTalksToOpenAmpEcho() => AssertPassed("B");

    /// <summary>AmpCan's simulated remote (device role) echoes OpenAMP's rpmsg-ping sizes 17..495 intact.</summary>
    [Test]
    public void OpenAmpPingTalksToAmpCanRemote() => AssertPassed("C");
}

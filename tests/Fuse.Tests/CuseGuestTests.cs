namespace AmpCan.Tests.Fuse;

/// <summary>
/// The CUSE server inside a real kernel: Debian's kernel under QEMU (tests/kernel-vm), which loads cuse and has
/// /dev/cuse, runs tests/CuseProbe once (an echo character device and a client in one process); each test here reads
/// one of its checks. Skipped, with the reason, when QEMU or the Debian kernel is missing.
/// </summary>
[TestFixture, Category("KernelVm"), NonParallelizable]
public class CuseGuestTests
{
    private readonly Dictionary<string, string> _results = new();
    private string _output = "";

    [OneTimeSetUp]
    public void RunTheProbeInTheGuest()
    {
        KernelVmHarness.Prepare("the CUSE guest tests");
        string config = new DirectoryInfo(TestContext.CurrentContext.TestDirectory).Parent!.Name; // bin/<Config>/net10.0
        string probe = Path.Combine(KernelVmHarness.RepoRoot(), "tests", "CuseProbe", "bin", config, "net10.0", "ampcan-cuse-probe.dll");
        Assert.That(File.Exists(probe), Is.True, $"the CUSE probe is not built at {probe}");
        string[] guest = KernelVmHarness.InGuest([Path.GetDirectoryName(probe)!], [], "dotnet", probe);
        Dictionary<string, string> environment = KernelVmHarness.GuestEnvironment();
        environment["RIK_TIMEOUT"] = "480"; // one boot for every check: about 30 s, more under a loaded host
        var run = KernelVmHarness.Run(guest[0], guest[1..], TimeSpan.FromMinutes(9), environment: environment);
        KernelVmHarness.AssertGuestRan(run);
        _output = run.Out + run.Err;
        TestContext.Progress.WriteLine($"CUSE guest said:\n{run.Out}");
        foreach (string line in run.Out.Split('\n'))
        {
            string[] w = line.Split(' ', 3);
            if (w.Length == 3 && w[0] == "RESULT") _results[w[1]] = w[2].Trim();
        }
        Assert.That(run.Code, Is.Zero, $"the probe failed:\n{_output}");
    }

    private void AssertPassed(string check) =>
        Assert.That(_results.GetValueOrDefault(check, "missing"), Does.StartWith("pass"), $"check {check}; the guest said:\n{_output}");

    /// <summary>CuseServer.Open makes /dev/ampcan/echo0 (a '/' in DEVNAME is a subdirectory) an S_ISCHR node of the number sysfs shows, with the configured owner, group and mode.</summary>
    [Test]
    public void TheDeviceIsACharacterDeviceWithTheConfiguredOwnerAndMode() => AssertPassed("create");

    /// <summary>A second device of a name in use is refused EEXIST, naming it.</summary>
    [Test]
    public void ASecondDeviceOfTheSameNameIsRefused() => AssertPassed("name-taken");

    /// <summary>Every write of 1 to 496 bytes comes back as one read of that size.</summary>
    [Test]
    public void EachWriteComesBackAsOneRead() => AssertPassed("echo");

    /// <summary>A read shorter than the message takes its start; the rest is discarded.</summary>
    [Test]
    public void AShortReadTruncates() => AssertPassed("short-read");

    /// <summary>O_NONBLOCK with nothing queued: EAGAIN.</summary>
    [Test]
    public void NonBlockingReadGivesEagain() => AssertPassed("nonblock");

    /// <summary>A waiting poll is woken by FUSE_NOTIFY_POLL after a write.</summary>
    [Test]
    public void APollIsWokenByTheNotification() => AssertPassed("poll");

    /// <summary>An unrestricted ioctl reads the client's 40-byte struct and writes an int back in two rounds; an _IOW command gets its bytes by its encoding; unknown ones ENOTTY.</summary>
    [Test]
    public void AnUnrestrictedIoctlIsRetriedWithTheClientsBuffers() => AssertPassed("ioctl-retry");

    /// <summary>A bad client pointer ends in EFAULT for the client, the server seeing only the first round.</summary>
    [Test]
    public void ABadPointerGivesEfault() => AssertPassed("ioctl-efault");

    /// <summary>Retries over the kernel's limits reach the client as ENOMEM (refused before writing); 256 iovecs are taken.</summary>
    [Test]
    public void RetriesOverTheKernelsLimitsGiveEnomem() => AssertPassed("ioctl-refused");

    /// <summary>A hidden node cannot be opened, while a descriptor held open is still answered by the server (EPIPE once destroyed) until its RELEASE.</summary>
    [Test]
    public void AHiddenNodeKeepsItsOpenDescriptorsServed() => AssertPassed("hide");

    /// <summary>Stopping a server under open clients: the blocked read and later calls fail, the node and sysfs entry go.</summary>
    [Test]
    public void StoppingUnderOpenClientsFailsThemAndRemovesTheNode() => AssertPassed("server-close");

    /// <summary>Dispose ends the loop and leaves nothing in sysfs or /dev.</summary>
    [Test]
    public void StoppingLeavesNothingBehind() => AssertPassed("stop");
}

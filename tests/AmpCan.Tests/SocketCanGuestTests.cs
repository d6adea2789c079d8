namespace AmpCan.Tests.Host;

/// <summary>
/// The SocketCAN back end (SocketCanPort) inside a real kernel: Debian's kernel under QEMU (tests/kernel-vm), with
/// vcan0, vcan1 and vcan2 up, can-raw loaded and can-utils, runs tests/CanProbe once; each test here reads one of its checks.
/// Skipped, with the reason, when QEMU or the Debian kernel is missing.
/// </summary>
[TestFixture, Category("KernelVm"), NonParallelizable]
public class SocketCanGuestTests
{
    private readonly Dictionary<string, string> _results = new();
    private string _output = "";

    [OneTimeSetUp]
    public void RunTheProbeInTheGuest()
    {
        KernelVmHarness.Prepare("the SocketCAN guest tests");
        string config = new DirectoryInfo(TestContext.CurrentContext.TestDirectory).Parent!.Name; // bin/<Config>/net10.0
        string probe = Path.Combine(KernelVmHarness.RepoRoot(), "tests", "CanProbe", "bin", config, "net10.0", "ampcan-can-probe.dll");
        Assert.That(File.Exists(probe), Is.True, $"the CAN probe is not built at {probe}");
        string[] guest = KernelVmHarness.InGuest([Path.GetDirectoryName(probe)!], [], "dotnet", probe);
        Dictionary<string, string> environment = KernelVmHarness.GuestEnvironment();
        environment["RIK_TIMEOUT"] = "480"; // one boot for every check: about a minute, four times that under a loaded host
        var run = KernelVmHarness.Run(guest[0], guest[1..], TimeSpan.FromMinutes(9), environment: environment);
        KernelVmHarness.AssertGuestRan(run);
        _output = run.Out + run.Err;
        TestContext.Progress.WriteLine($"SocketCAN guest said:\n{run.Out}");
        foreach (string line in run.Out.Split('\n'))
        {
            string[] w = line.Split(' ', 3);
            if (w.Length == 3 && w[0] == "RESULT") _results[w[1]] = w[2].Trim();
        }
        Assert.That(run.Code, Is.Zero, $"the probe failed:\n{_output}");
    }

    private void AssertPassed(string check) =>
        Assert.That(_results.GetValueOrDefault(check, "missing"), Does.StartWith("pass"), $"check {check}; the guest said:\n{_output}");

    /// <summary>Classic standard, extended, zero-length, remote (with a length) and FD frames (BRS, ESI, 64 bytes) a port sends appear in candump -L exactly.</summary>
    [Test]
    public void FramesAPortSendsAppearInCandump() => AssertPassed("tx-candump");

    /// <summary>cansend's classic, extended, remote and FD frames reach a port with their identifier, kind, length and data.</summary>
    [Test]
    public void CansendFramesReachAPort() => AssertPassed("rx-cansend");

    /// <summary>
    /// With ConfirmsTransmits, 10,000 frames (classic, extended, FD, remote) sent as fast as their echoes allow each come
    /// back once as an echo, in order and equal, while cangen floods the bus; sending and taking allocate nothing.
    /// </summary>
    [Test]
    public void EveryEchoComesBackOnceInOrderUnderAFlood() => AssertPassed("echo-under-load");

    /// <summary>
    /// With the reader held and the smallest receive buffer, the kernel drops our echoes: a later echo restores them in
    /// order; when none comes, the port answers Busy with all awaited, gives them up after its timeout and serves again.
    /// </summary>
    [Test]
    public void EchoesTheKernelDropsAreRestoredOrGivenUp() => AssertPassed("echo-lost");

    /// <summary>Error frames of the classes asked for (bus-off, controller, restarted) arrive with their class and state; others do not.</summary>
    [Test]
    public void ErrorFramesArriveWithTheirClass() => AssertPassed("error-frame");

    /// <summary>
    /// The kernel takes a bus-off error frame a port sends on a vcan (what the CAN bridge writes for a remote-owned
    /// controller's bus-off), and another port, with the default error filter, receives it as bus-off.
    /// </summary>
    [Test]
    public void ABusOffErrorFrameAPortSendsArrivesAsBusOff() => AssertPassed("busoff-frame");

    /// <summary>A bridge told that vcan0 is its controller's face carries the controller's bus-off onto vcan0; a bus-off written on vcan0 does not cross back.</summary>
    [Test]
    public void ABridgeCarriesTheControllersBusOffOntoTheVcanOnly() => AssertPassed("busoff-bridge");

    /// <summary>ip link set down: Send answers Down and the port says so; up: the same port serves both ways again.</summary>
    [Test]
    public void ADownInterfaceIsAnsweredDownAndServedAgainWhenUp() => AssertPassed("down-up");

    /// <summary>A port on a missing vcan9 says so and answers Down; it serves once vcan9 is created, and again after it is deleted and re-created.</summary>
    [Test]
    public void AMissingInterfaceIsServedOnceItAppears() => AssertPassed("missing-appears");

    /// <summary>CAN_RAW_FILTER: an exact standard filter lets through its identifier only, an inverted extended one everything but its own.</summary>
    [Test]
    public void FiltersLetOnlyTheirFramesThrough() => AssertPassed("filters");

    /// <summary>Ports on vcan0 and vcan1 at once, each hearing and reaching only its own bus.</summary>
    [Test]
    public void TwoInterfacesAreServedAtOnce() => AssertPassed("two-ports");
}

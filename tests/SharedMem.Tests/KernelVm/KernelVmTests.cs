using AmpCan.SharedMem;

namespace AmpCan.Tests.SharedMem.KernelVm;

/// <summary>
/// /dev/mem windows, UIO maps and UIO interrupts in a real kernel: Debian's stock kernel under QEMU with an
/// ivshmem-doorbell device whose memory is a host file (tests/kernel-vm). One guest boot serves the fixture; the guest
/// runs tests/GuestProbe, which uses only SharedMem's public API. Skipped, with the reason, when QEMU or the Debian
/// kernel is missing (.ci/run installs them).
/// </summary>
[TestFixture, Category("KernelVm"), NonParallelizable]
public class KernelVmTests
{
    private const ulong HostPattern = 0x1122334455667788, DevMemPattern = 0xA1B2C3D4E5F60718, UioPattern = 0x0DDC0FFEE0DDF00D;
    private const int Rounds = 50;
    private string _output = "";
    private int _exitCode = -1;
    private ulong _at200, _at300;
    private uint _at400;

    [OneTimeSetUp]
    public void BootTheGuest()
    {
        string root = KernelVmHarness.RepoRoot();
        string kvm = KernelVmHarness.ScriptDirectory;
        Dictionary<string, string> built = KernelVmHarness.Prepare("kernel-VM tests");

        string config = new DirectoryInfo(TestContext.CurrentContext.TestDirectory).Parent!.Name; // bin/<Config>/net10.0
        string probe = Path.Combine(root, "tests", "GuestProbe", "bin", config, "net10.0", "ampcan-guest-probe.dll");
        Assert.That(File.Exists(probe), Is.True, $"guest probe not built at {probe}");

        string id = Guid.NewGuid().ToString("N")[..12];
        string shm = $"/dev/shm/ampcan-kvm-{id}", sock = $"/tmp/ampcan-kvm-{id}.sock";
        try
        {
            using (MappedRegion host = MappedRegion.MapFile(shm, 0x100000, create: true))
                host.Io.WriteU64(0x100, HostPattern);
            string[] guest = KernelVmHarness.InGuest([Path.GetDirectoryName(built["module"])!, Path.GetDirectoryName(probe)!],
                ["--ivshmem-doorbell", sock], Path.Combine(kvm, "guest.sh"), built["module"], probe, Rounds.ToString(System.Globalization.CultureInfo.InvariantCulture));
            var run = KernelVmHarness.Run(built["ivsh-host"], ["-q", "-e", "-S", sock, "-m", shm, "-l", "1M", "--", .. guest],
                TimeSpan.FromMinutes(5), environment: KernelVmHarness.GuestEnvironment());
            KernelVmHarness.AssertGuestRan(run);
            _exitCode = run.Code;
            _output = run.Out + run.Err;
            TestContext.Progress.WriteLine($"kernel-VM guest (kernel {built["kernel"]}) said:\n{_output}");
            using MappedRegion after = MappedRegion.MapFile(shm, 0x100000);
            _at200 = after.Io.ReadU64(0x200);
            _at300 = after.Io.ReadU64(0x300);
            _at400 = after.Io.ReadU32(0x400);
        }
        finally
        {
            File.Delete(shm);
            File.Delete(sock);
        }
    }

    [Test]
    public void GuestRanEveryCheck()
    {
        Assert.That(_output, Does.Not.Contain("FAIL"));
        Assert.That(_exitCode, Is.Zero);
        Assert.That(_output, Does.Contain("guest done"));
    }

    [Test]
    public void PhysicalWindowThroughDevMemIsTheHostsMemory()
    {
        Assert.That(_output, Does.Contain("devmem ok /dev/mem@0x"), "the guest read the host's pattern through /dev/mem");
        Assert.That(_at200, Is.EqualTo(DevMemPattern), "the host sees what the guest wrote through /dev/mem");
    }

    [Test]
    public void UioMapTakesItsGeometryFromSysfsAndSharesTheMemory()
    {
        Assert.That(_output, Does.Contain("uiomap ok /dev/uio0 map0 [Uio, 0x"), "MapUio read size and physical address from sysfs");
        Assert.That(_at300, Is.EqualTo(UioPattern), "the host sees what the guest wrote through the UIO map");
        Assert.That(_at400, Is.EqualTo(0xC0DEC0DEu), "a /dev/mem write and the UIO map are the same memory");
    }

    [Test]
    public void UioInterruptsComeBackThroughTheMailboxRegisterAndReArm()
    {
        Assert.That(_output, Does.Contain("ivposition 1"), "the guest's registers are map 1 of the UIO device");
        Assert.That(_output, Does.Contain($"irq ok {Rounds} "), $"{Rounds} kicks through the doorbell register each came back as a UIO interrupt");
    }

    [Test]
    public void ClaimedWindowIsRefusedWithTheDeviceAndReasonNamed()
    {
        string line = _output.Split('\n').FirstOrDefault(l => l.StartsWith("claimed refused", StringComparison.Ordinal)) ?? "";
        Assert.That(line, Does.Contain("errno=1").And.Contain("/dev/mem").And.Contain("Operation not permitted"));
    }
}

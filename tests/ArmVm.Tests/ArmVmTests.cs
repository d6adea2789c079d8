using System.Text.RegularExpressions;
using AmpCan.SharedMem;

namespace AmpCan.Tests.ArmVm;

/// <summary>
/// The arm64 build of the product on Device memory, under emulation: one arm64 guest (tests/arm-vm, QEMU's TCG, which
/// enforces Arm's alignment rules for Device memory) maps two ivshmem BARs through /dev/mem and runs tests/ArmProbe's
/// checks, each in a process of its own, while this process plays the peers on the host side of the same memory: the
/// device of the guest's vring and the remote of its rpmsg bus. The tests read what both sides saw.
/// </summary>
[TestFixture, Category("ArmVm"), NonParallelizable]
public sealed partial class ArmVmTests
{
    private const int Rounds = 300;
    private static readonly TimeSpan GuestLimit = TimeSpan.FromMinutes(8);
    private readonly string[] _files = [.. Enumerable.Range(0, 2).Select(i => $"/dev/shm/ampcan-armvm-{Environment.ProcessId}-{i}")];
    private ArmVmHarness.GuestRun _run = null!;
    private VringDevicePeer _vring = null!;
    private RpmsgRemotePeer _rpmsg = null!;
    private MappedRegion _bar0 = null!, _bar1 = null!;
    private Dictionary<string, int> _exits = null!;

    [OneTimeSetUp]
    public void BootTheGuestOnce()
    {
        ArmVmHarness.RequireGuest("the ArmVm tests");
        foreach (string f in _files) File.Delete(f);
        _bar0 = MappedRegion.MapFile(_files[0], ArmVmLayout.BarSize, ArmVmLayout.DeviceBase, create: true);
        _bar1 = MappedRegion.MapFile(_files[1], ArmVmLayout.BarSize, ArmVmLayout.DeviceBase, create: true);
        _bar0.Io.WriteU64(ArmVmLayout.HostPatternOffset, ArmVmLayout.HostPattern);
        _vring = new VringDevicePeer(_bar0);
        _rpmsg = new RpmsgRemotePeer(_bar1);
        _vring.Start();
        _rpmsg.Start();
        _run = ArmVmHarness.RunGuestScript(_files, GuestLimit, Rounds.ToString(System.Globalization.CultureInfo.InvariantCulture));
        TestContext.Progress.WriteLine($"arm64 guest: exit {_run.Code}\n{_run.Out}{_run.Err}");
        _vring.Dispose();
        _rpmsg.Dispose();
        TestContext.Progress.WriteLine($"host vring device: {_vring.Served} chains, median service {_vring.MedianServiceMicroseconds:F1} us; rpmsg remote: {_rpmsg.Echoed} echoed");
        ArmVmHarness.AssertGuestRan(_run);
        _exits = ExitLine().Matches(_run.Out).ToDictionary(m => m.Groups[1].Value, m => int.Parse(m.Groups[2].Value, provider: null));
    }

    [OneTimeTearDown]
    public void RemoveTheFiles()
    {
        _vring?.Dispose();
        _rpmsg?.Dispose();
        _bar0?.Dispose();
        _bar1?.Dispose();
        foreach (string f in _files) File.Delete(f);
    }

    [Test]
    public void TheBarMapsAsDeviceMemoryThroughDevMemAndSysfsAndBothSeeTheHost()
    {
        AssertCheckPassed("maps", "devmem", "barriers", "uio-regs", "second-map");
        Assert.Multiple(() =>
        {
            Assert.That(_bar0.Io.ReadU64(ArmVmLayout.DevMemPatternOffset), Is.EqualTo(ArmVmLayout.DevMemPattern), "the guest's write through /dev/mem, seen in the host's file");
            Assert.That(_bar0.Io.ReadU64(ArmVmLayout.SecondMapPatternOffset), Is.EqualTo(ArmVmLayout.SecondMapPattern), "the guest's write through its second mapping, seen in the host's file");
        });
    }

    [Test]
    public void TheGuestDrivesAVringInTheBarAndEveryByteArrivesOnBothSides()
    {
        AssertCheckPassed("vring", "vring");
        Assert.Multiple(() =>
        {
            Assert.That(_vring.Failure, Is.Null, "the host's device side");
            Assert.That(_vring.Mismatches, Is.Empty, "requests the host's device found wrong");
            Assert.That(_vring.Served, Is.EqualTo(Rounds), "chains the host's device served");
            Assert.That(_vring.DriverDone, Is.True, "the driver's done word");
            Assert.That(_bar0.Io.ReadU32(ArmVmLayout.VringDoneCountOffset), Is.EqualTo((uint)Rounds), "round trips the guest completed");
        });
    }

    [Test]
    public void TheGuestIsTheRpmsgHostOverTheBarAndEchoesEveryLengthUpToTheMtu()
    {
        AssertCheckPassed("rpmsg", "rpmsg-ns", "rpmsg");
        int mtu = ArmVmLayout.RpmsgBufferSize - 16;
        Assert.Multiple(() =>
        {
            Assert.That(_rpmsg.Failure ?? _rpmsg.BusFailure, Is.Null, "the host's remote side");
            Assert.That(_rpmsg.Started, Is.True, "the guest's driver set DRIVER_OK");
            Assert.That(_rpmsg.Mismatched, Is.Zero, $"messages the remote found wrong: {_rpmsg.FirstMismatch}");
            Assert.That(_rpmsg.Echoed, Is.EqualTo(mtu), "messages the remote echoed (lengths 1..MTU)");
        });
    }

    [TestCase("unaligned-load")]
    [TestCase("clear")]
    [TestCase("copy")]
    public void ADeliberatelyUnsafeAccessToTheBarFaults(string kind)
    {
        // The harness can fail: the same guest, the same BAR, an access the product must never make, and the emulated
        // CPU raises the alignment fault a real Cortex-A core would. The kernel sends SIGBUS: in managed code .NET turns
        // it into a DataMisalignedException (the probe reports it and exits 2), in native code (glibc's memset under
        // Span.Clear) the process dies of it (128 + SIGBUS 7).
        string check = "fault-" + kind;
        Assert.That(_exits, Does.ContainKey(check), $"the guest did not run {check}:\n{_run.Out}");
        Assert.Multiple(() =>
        {
            Assert.That(_run.Out, Does.Not.Match($"(?m)^SURVIVED {check}( |$)"), "the unsafe access went through: this QEMU does not enforce alignment on Device memory");
            Assert.That(_exits[check], Is.EqualTo(2).Or.EqualTo(128 + 7), $"{check}'s exit code: 2 with a FAULT line, or killed by SIGBUS");
            if (_exits[check] == 2) Assert.That(_run.Out, Does.Contain($"FAULT {check} DataMisalignedException"), "the fault the kernel raised, as .NET reports it");
        });
    }

    private void AssertCheckPassed(string check, params string[] passes)
    {
        Assert.That(_exits, Does.ContainKey(check), $"the guest did not run {check}:\n{_run.Out}");
        string[] lines = Section(check);
        string text = string.Join('\n', lines);
        Assert.Multiple(() =>
        {
            Assert.That(lines.Where(l => l.StartsWith("FAIL ", StringComparison.Ordinal)), Is.Empty, $"FAIL lines of {check}:\n{text}");
            foreach (string p in passes) Assert.That(lines.Any(l => l.StartsWith($"PASS {p} ", StringComparison.Ordinal)), $"no PASS {p} line:\n{text}");
            Assert.That(_exits[check], Is.Zero, $"{check}'s exit code");
        });
    }

    /// <summary>The lines one check printed: those after the previous check's EXIT line, up to its own.</summary>
    private string[] Section(string check)
    {
        var section = new List<string>();
        foreach (string line in _run.Out.Split('\n'))
        {
            if (line.StartsWith($"EXIT {check} ", StringComparison.Ordinal)) return [.. section, line];
            if (line.StartsWith("EXIT ", StringComparison.Ordinal)) section.Clear();
            else section.Add(line);
        }
        return [];
    }

    [GeneratedRegex(@"^EXIT (\S+) (\d+)", RegexOptions.Multiline)]
    private static partial Regex ExitLine();
}

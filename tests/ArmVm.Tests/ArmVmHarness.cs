using System.Globalization;

namespace AmpCan.Tests.ArmVm;

/// <summary>
/// tests/arm-vm: an arm64 guest (qemu-system-aarch64 -M virt under TCG, Debian's arm64 kernel) with ivshmem-plain
/// devices over host files. prepare.sh builds it (once per machine, into /var/tmp/ampcan-arm-vm; it publishes
/// tests/ArmProbe for linux-arm64 again when the sources change) and runs once per test process here; run-guest.sh
/// boots one guest per command.
/// </summary>
internal static class ArmVmHarness
{
    // The first call may take minutes (downloads, the arm64 publish).
    private static readonly GuestPreparation Preparation = new(ScriptDirectory, "arm64 guest", TimeSpan.FromMinutes(25));

    /// <summary>tests/arm-vm in this checkout.</summary>
    public static string ScriptDirectory => Path.Combine(KernelVmHarness.RepoRoot(), "tests", "arm-vm");

    /// <summary>prepare.sh's KEY=VALUE lines: qemu, kernel, kernel-package, libc, probe, ...</summary>
    public static IReadOnlyDictionary<string, string> Facts => Preparation.Facts;

    /// <summary>Ignores the calling fixture when no arm64 guest can be made here, fails it when prepare.sh failed (<see cref="GuestPreparation.RequireGuest"/>).</summary>
    public static void RequireGuest(string what) => Preparation.RequireGuest(what);

    /// <summary>A guest's run: the command's exit code (124: out of time, 125: the guest failed) and its output.</summary>
    public sealed record GuestRun(int Code, string Out, string Err);

    /// <summary>
    /// Boots the guest with one ivshmem-plain device per file of <paramref name="ivshmemFiles"/> (PCI 00:10.0, 00:11.0,
    /// ...; each <see cref="ArmVmLayout.BarSize"/>), runs tests/arm-vm/guest.sh with <paramref name="arguments"/> in it,
    /// and returns its exit code and output; the guest is stopped after <paramref name="limit"/>, boot included.
    /// </summary>
    public static GuestRun RunGuestScript(IEnumerable<string> ivshmemFiles, TimeSpan limit, params string[] arguments)
    {
        string size = ArmVmLayout.BarSize.ToString(CultureInfo.InvariantCulture);
        string[] args =
        [
            "--timeout", ((int)Math.Ceiling(limit.TotalSeconds)).ToString(CultureInfo.InvariantCulture), "--timing",
            .. ivshmemFiles.SelectMany(f => new[] { "--ivshmem", $"{f}:{size}" }),
            "--script", Path.Combine(ScriptDirectory, "guest.sh"), "--", .. arguments,
        ];
        var (code, stdout, stderr) = KernelVmHarness.Run(Path.Combine(ScriptDirectory, "run-guest.sh"), args, limit + TimeSpan.FromSeconds(30));
        return new GuestRun(code, stdout, stderr);
    }

    /// <summary>Fails the fixture, with run-guest.sh's words and the end of the console, when the guest never ran its command to the end.</summary>
    public static void AssertGuestRan(GuestRun run)
    {
        if (run.Code is not (124 or 125)) return;
        ILookup<bool, string> err = run.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToLookup(l => l.StartsWith("run-guest:", StringComparison.Ordinal));
        string rest = err[false].Any() ? "\nthe end of the rest (the command, the guest's console):\n" + string.Join('\n', err[false].TakeLast(30)) : "";
        Assert.Fail($"the arm64 guest did not run its command to the end (exit {run.Code}):\n{string.Join('\n', err[true])}{rest}\nits output:\n{run.Out}");
    }
}

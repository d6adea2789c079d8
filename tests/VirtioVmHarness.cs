namespace AmpCan.Tests;

/// <summary>
/// What the virtio-VM fixtures share: tests/virtio-vm, a QEMU guest running Debian's kernel with Linux's rpmsg drivers,
/// whose virtio devices are served over vhost-user by back-ends listening on host sockets. prepare.sh builds it (once
/// per machine, into /var/tmp/ampcan-virtio-vm) and runs once per test process here; run-guest.sh boots one guest per
/// command. Linked beside KernelVmHarness.cs and GuestPreparation.cs.
/// </summary>
internal static class VirtioVmHarness
{
    // The first time debootstraps a root and downloads ~450 MB; every later time takes a second or two.
    private static readonly GuestPreparation Preparation = new(ScriptDirectory, "virtio-VM guest", TimeSpan.FromMinutes(20));

    /// <summary>tests/virtio-vm in this checkout.</summary>
    public static string ScriptDirectory => Path.Combine(KernelVmHarness.RepoRoot(), "tests", "virtio-vm");

    /// <summary>Null when guests can boot here; otherwise why not, in prepare.sh's words (no root, no mirror, ...).</summary>
    public static string? SkipReason => Preparation.SkipReason;

    /// <summary>prepare.sh's KEY=VALUE lines: kernel, qemu, qemu-device, rpmsg-modules, can-modules, vermagic, ...</summary>
    public static IReadOnlyDictionary<string, string> Facts => Preparation.Facts;

    /// <summary>Ignores the calling fixture or test when no guest can boot here, fails it when prepare.sh failed (<see cref="GuestPreparation.RequireGuest"/>).</summary>
    public static void RequireGuest(string what) => Preparation.RequireGuest(what);

    /// <summary>A guest's run: the command's exit code (124: out of time, 125: the guest failed) and its output.</summary>
    public sealed record GuestRun(int Code, string Out, string Err);

    /// <summary>
    /// Boots a guest with one virtio-rpmsg device per socket in <paramref name="rpmsgSockets"/> (their back-ends must
    /// already listen), runs <paramref name="command"/> in it, and returns its exit code and output. The guest is stopped
    /// after <paramref name="limit"/>, boot included (exit 124). <paramref name="options"/> are more of run-guest.sh's
    /// options (<c>--vq-size N</c>, <c>--share DIR</c>, <c>--env NAME=VALUE</c>, ...).
    /// </summary>
    public static GuestRun Run(IEnumerable<string> rpmsgSockets, TimeSpan limit, IEnumerable<string> options, params string[] command)
    {
        string[] args =
        [
            "--timeout", ((int)Math.Ceiling(limit.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture),
            .. rpmsgSockets.SelectMany(s => new[] { "--rpmsg", s }), .. options, "--", .. command,
        ];
        // run-guest.sh stops the guest itself; the margin covers its own start and clean-up.
        var (code, stdout, stderr) = KernelVmHarness.Run(Path.Combine(ScriptDirectory, "run-guest.sh"), args, limit + TimeSpan.FromSeconds(30));
        return new GuestRun(code, stdout, stderr);
    }

    /// <summary>Run without further run-guest.sh options.</summary>
    public static GuestRun Run(IEnumerable<string> rpmsgSockets, TimeSpan limit, params string[] command) => Run(rpmsgSockets, limit, [], command);

    /// <summary>
    /// Fails the test, with run-guest.sh's own words and the end of the guest's console, when the guest never ran the
    /// command or did not finish it (exit 125 or 124), instead of leaving the test to fail on missing output.
    /// </summary>
    public static void AssertGuestRan(GuestRun run)
    {
        if (run.Code is not (124 or 125)) return;
        ILookup<bool, string> err = run.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToLookup(l => l.StartsWith("run-guest:", StringComparison.Ordinal));
        string rest = err[false].Any() ? "\nthe end of the rest (the command, the guest's console):\n" + string.Join('\n', err[false].TakeLast(30)) : "";
        Assert.Fail($"the virtio-VM guest did not run its command to the end (exit {run.Code}):\n{string.Join('\n', err[true])}{rest}\nits output:\n{run.Out}");
    }
}

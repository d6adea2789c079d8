namespace AmpCan.Tests;

/// <summary>
/// What the virtio-VM fixtures share: tests/virtio-vm, a QEMU guest running Debian's kernel with Linux's rpmsg drivers,
/// whose virtio devices are served over vhost-user by back-ends listening on host sockets. prepare.sh builds it (once
/// per machine, into /var/tmp/ampcan-virtio-vm) and runs once per test process here; run-guest.sh boots one guest per
/// command. Linked beside KernelVmHarness.cs, whose RepoRoot and Run it uses.
/// </summary>
internal static class VirtioVmHarness
{
    /// <summary>What prepare.sh said: its KEY=VALUE lines, or why no guest can boot here, or how it failed.</summary>
    private sealed record Preparation(IReadOnlyDictionary<string, string> Facts, string? Unavailable, string? Failure);

    private static readonly Lazy<Preparation> Prepared = new(Prepare);

    /// <summary>tests/virtio-vm in this checkout.</summary>
    public static string ScriptDirectory => Path.Combine(KernelVmHarness.RepoRoot(), "tests", "virtio-vm");

    /// <summary>Null when guests can boot here; otherwise why not, in prepare.sh's words (no root, no mirror, ...).</summary>
    public static string? SkipReason => Prepared.Value.Unavailable;

    /// <summary>prepare.sh's KEY=VALUE lines: kernel, qemu, qemu-device, rpmsg-modules, can-modules, vermagic, ...</summary>
    public static IReadOnlyDictionary<string, string> Facts => Prepared.Value.Facts;

    /// <summary>
    /// Ignores the calling fixture or test, with the reason, when no guest can boot here; fails it when prepare.sh
    /// failed for another reason (a build broke). Call it from OneTimeSetUp: the first call may take minutes.
    /// </summary>
    public static void RequireGuest(string what)
    {
        Preparation p = Prepared.Value;
        if (p.Unavailable is not null) Assert.Ignore($"{what}: no virtio-VM guest can boot here (tests/virtio-vm/prepare.sh): {p.Unavailable}");
        if (p.Failure is not null) Assert.Fail($"preparing the virtio-VM bench (tests/virtio-vm/prepare.sh) failed: {p.Failure}");
    }

    private static Preparation Prepare()
    {
        // The first time debootstraps a root and downloads ~450 MB; every later time takes a second or two.
        var (code, stdout, stderr) = KernelVmHarness.Run("bash", [Path.Combine(ScriptDirectory, "prepare.sh")], TimeSpan.FromMinutes(20));
        string said = stdout.Trim();
        return code switch
        {
            0 => new(said.Split('\n').Select(l => l.Split('=', 2)).Where(kv => kv.Length == 2).ToDictionary(kv => kv[0], kv => kv[1].Trim()), null, null),
            3 => new(new Dictionary<string, string>(), said, null),
            _ => new(new Dictionary<string, string>(), null, $"exit {code}: {said}\n{stderr.Trim()}"),
        };
    }

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

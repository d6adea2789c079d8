using System.Diagnostics;
using System.Runtime.InteropServices;

namespace AmpCan.Tests;

/// <summary>What the kernel-VM fixtures share: finding tests/kernel-vm and running its scripts with a failure bound.</summary>
internal static class KernelVmHarness
{
    /// <summary>The repository root (the directory holding AmpCan.sln) above the test assembly.</summary>
    public static string RepoRoot()
    {
        for (DirectoryInfo? d = new(TestContext.CurrentContext.TestDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "AmpCan.sln"))) return d.FullName;
        throw new InvalidOperationException("cannot find the repository root (AmpCan.sln) above the test directory");
    }

    /// <summary>tests/kernel-vm in this checkout.</summary>
    public static string ScriptDirectory => Path.Combine(RepoRoot(), "tests", "kernel-vm");

    /// <summary>The .NET install running this test (the runtime lives in ROOT/shared/Microsoft.NETCore.App/VERSION/).</summary>
    private static string DotnetRoot => Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));

    /// <summary>Runs a program to completion; fails the test (and kills the tree) when it outlives the timeout.</summary>
    public static (int Code, string Out, string Err) Run(string file, IEnumerable<string> args, TimeSpan timeout, string? cwd = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = cwd ?? "/" };
        foreach (string a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        Task<string> o = p.StandardOutput.ReadToEndAsync(), e = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"{Path.GetFileName(file)} did not finish within {timeout}");
        }
        return (p.ExitCode, o.Result, e.Result);
    }

    /// <summary>
    /// The run-in-kernel.sh command line that runs <paramref name="command"/> in the guest. The guest sees the host's root
    /// but a fresh /tmp, /run and /dev/shm, so everything the command needs is mounted read-only at its host path whatever
    /// that is: the checkout, the test binaries, the .NET install, and <paramref name="alsoVisible"/>.
    /// <paramref name="options"/> are more of run-in-kernel.sh's options (devices).
    /// </summary>
    public static string[] InGuest(IEnumerable<string> alsoVisible, IEnumerable<string> options, params string[] command)
    {
        var mounts = new List<string>();
        foreach (string dir in new[] { RepoRoot(), TestContext.CurrentContext.TestDirectory, DotnetRoot }.Concat(alsoVisible))
        {
            string full = Path.GetFullPath(dir).TrimEnd('/');
            if (!mounts.Any(m => full == m || full.StartsWith(m + "/", StringComparison.Ordinal))) mounts.Add(full);
        }
        return [Path.Combine(ScriptDirectory, "run-in-kernel.sh"), .. mounts.SelectMany(m => new[] { "--ro", m }), .. options, "--", .. command];
    }

    /// <summary>The environment a guest command needs: this test's <c>dotnet</c> first on PATH.</summary>
    public static Dictionary<string, string> GuestEnvironment() => new()
    {
        ["PATH"] = DotnetRoot + ":" + Environment.GetEnvironmentVariable("PATH"),
        ["DOTNET_ROOT"] = DotnetRoot,
    };

    /// <summary>
    /// Fails the fixture, with run-in-kernel.sh's own words, when the guest never ran the command (exit 125: a mount,
    /// a path or the boot failed) or ran out of time (124), instead of leaving the tests to fail on missing output.
    /// </summary>
    public static void AssertGuestRan((int Code, string Out, string Err) run)
    {
        if (run.Code is not (124 or 125)) return;
        ILookup<bool, string> err = run.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToLookup(l => l.StartsWith("run-in-kernel:", StringComparison.Ordinal));
        string rest = err[false].Any() ? "\nthe end of the rest (QEMU, guest console):\n" + string.Join('\n', err[false].TakeLast(30)) : "";
        Assert.Fail($"the kernel-VM guest did not run its command (exit {run.Code}):\n{string.Join('\n', err[true])}{rest}");
    }

    /// <summary>
    /// Builds what the guest needs (prepare.sh) and returns its KEY=VALUE lines; ignores the calling fixture, with the
    /// reason, when QEMU or the Debian kernel is missing.
    /// </summary>
    public static Dictionary<string, string> Prepare(string what)
    {
        var prep = Run("bash", [Path.Combine(ScriptDirectory, "prepare.sh")], TimeSpan.FromMinutes(10));
        if (prep.Code == 3) Assert.Ignore($"{what} needs a Debian kernel under QEMU: {prep.Err.Trim()}");
        Assert.That(prep.Code, Is.Zero, $"preparing the kernel-VM harness failed: {prep.Err}");
        return prep.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1].Trim());
    }
}

using System.Diagnostics;

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

    /// <summary>Runs a program to completion; fails the test (and kills the tree) when it outlives the timeout.</summary>
    public static (int Code, string Out, string Err) Run(string file, IEnumerable<string> args, TimeSpan timeout, string? cwd = null)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = cwd ?? "/" };
        foreach (string a in args) psi.ArgumentList.Add(a);
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

using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace AmpCan.Tests.Host;

/// <summary>
/// The rpmsg_char comparison programs of tests/rpmsg-char, run on this machine: rpmsg_char_cases.c (compiled here with
/// the host's gcc, once per process) and its twin rpmsg_char_cases.py run one fixed script of cases against
/// rpmsg_char-style files in a directory and print one "STEP name result" line per step; expected.txt is what Linux's own
/// rpmsg_char answered (RpmsgCharKernelTests proves it). A front end behaves as the kernel's when both transcripts equal it.
/// </summary>
public static class RpmsgCharCasePrograms
{
    /// <summary>Which of the two programs.</summary>
    public enum Program { C, Python }

    /// <summary>A run: the exit code (0 ran to its end, 2 could not start, 124 killed at the time limit), its stdout and stderr.</summary>
    public sealed record Outcome(int ExitCode, string Transcript, string Stderr);

    /// <summary>The exit code of a program that could not start (bad arguments, no rpmsg_ctrl* in the directory).</summary>
    public const int CouldNotStart = 2;

    /// <summary>The exit code <see cref="Run"/> gives a program it killed at its time limit.</summary>
    public const int OutOfTime = 124;

    /// <summary>tests/rpmsg-char in this checkout.</summary>
    public static string SourceDirectory => Path.Combine(KernelVmHarness.RepoRoot(), "tests", "rpmsg-char");

    /// <summary>The Python program, run from the checkout.</summary>
    public static string PythonProgram => Path.Combine(SourceDirectory, "rpmsg_char_cases.py");

    /// <summary>tests/rpmsg-char/expected.txt: the kernel's transcript, its first line a comment (kernel, date).</summary>
    public static string ExpectedPath => Path.Combine(SourceDirectory, "expected.txt");

    private static readonly Lazy<string> Compiled = new(Compile);

    /// <summary>The C program compiled with the host's gcc into a temporary directory (the first call compiles it).</summary>
    public static string CProgram => Compiled.Value;

    private static string Compile()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"ampcan-rpmsg-char-cases-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { Directory.Delete(dir, recursive: true); } catch (IOException) { } };
        string binary = Path.Combine(dir, "rpmsg_char_cases");
        Outcome gcc;
        try
        {
            gcc = Execute("gcc", ["-O2", "-Wall", "-Wextra", "-Werror", "-pthread", "-o", binary,
                Path.Combine(SourceDirectory, "rpmsg_char_cases.c")], TimeSpan.FromMinutes(2));
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            Assert.Ignore($"the rpmsg_char comparison's C program needs gcc on this machine: {e.Message}");
            throw;
        }
        if (gcc.ExitCode != 0) Assert.Fail($"gcc could not compile tests/rpmsg-char/rpmsg_char_cases.c (exit {gcc.ExitCode}):\n{gcc.Stderr}");
        return binary;
    }

    /// <summary>The arguments both programs take (--dir, --dst, --crash-cmd, --recover-cmd), only those given.</summary>
    public static IReadOnlyList<string> Arguments(string directory, uint? destination = null, string? crashCommand = null, string? recoverCommand = null)
    {
        var args = new List<string> { "--dir", directory };
        if (destination is uint d) args.AddRange(["--dst", "0x" + d.ToString("x", CultureInfo.InvariantCulture)]);
        if (crashCommand is not null) args.AddRange(["--crash-cmd", crashCommand]);
        if (recoverCommand is not null) args.AddRange(["--recover-cmd", recoverCommand]);
        return args;
    }

    /// <summary>
    /// Runs one program against the rpmsg_ctrl*/rpmsg* files of <paramref name="directory"/> (a FUSE mount, /dev for CUSE)
    /// and returns its exit code and output; it is killed (exit 124, its output so far) after <paramref name="limit"/>.
    /// The crash and recover commands run through /bin/sh -c; without them the crash part is reported as skipped.
    /// </summary>
    public static Outcome Run(Program program, string directory, TimeSpan limit, uint? destination = null, string? crashCommand = null,
        string? recoverCommand = null)
    {
        IReadOnlyList<string> args = Arguments(directory, destination, crashCommand, recoverCommand);
        if (program == Program.C) return Execute(CProgram, args, limit);
        try
        {
            return Execute("python3", [PythonProgram, .. args], limit);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            Assert.Ignore($"the rpmsg_char comparison's Python program needs python3 on this machine: {e.Message}");
            throw;
        }
    }

    private static Outcome Execute(string file, IEnumerable<string> args, TimeSpan limit)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
        };
        foreach (string a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        Task<string> stdout = p.StandardOutput.ReadToEndAsync(), stderr = p.StandardError.ReadToEndAsync();
        int code;
        if (p.WaitForExit(limit))
        {
            code = p.ExitCode;
        }
        else
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            code = OutOfTime;
        }
        // The pipes close when the process (and whatever inherited them) is gone; a child left holding them is not waited for.
        Task.WaitAll([stdout, stderr], TimeSpan.FromSeconds(10));
        return new Outcome(code, stdout.IsCompletedSuccessfully ? stdout.Result : "", stderr.IsCompletedSuccessfully ? stderr.Result : "");
    }

    /// <summary>The kernel's transcript from expected.txt, its comment lines (starting with #) left out.</summary>
    public static string Expected() =>
        string.Concat(File.ReadAllLines(ExpectedPath).Where(l => !l.StartsWith('#')).Select(l => l + "\n"));

    /// <summary>expected.txt's comment lines: which kernel answered, and when.</summary>
    public static string ExpectedProvenance() => string.Join('\n', File.ReadAllLines(ExpectedPath).Where(l => l.StartsWith('#')));

    /// <summary>Null when <paramref name="transcript"/> equals the kernel's; otherwise a line diff ("-" the kernel's, "+" this one's).</summary>
    public static string? Difference(string transcript) =>
        LineDiff(Expected(), transcript) is string d ? $"the transcript differs from the kernel's ('-' the kernel's line, '+' this one's):\n{d}" : null;

    /// <summary>Null when the two transcripts are equal; otherwise a line diff ("-" <paramref name="first"/>'s line, "+" <paramref name="second"/>'s).</summary>
    public static string? Difference(string first, string second) =>
        LineDiff(first, second) is string d ? $"the transcripts differ ('-' the first's line, '+' the second's):\n{d}" : null;

    private static string? LineDiff(string expected, string actual)
    {
        if (expected == actual) return null;
        string[] a = Lines(expected), b = Lines(actual);
        // Longest common subsequence of lines: transcripts are ~80 lines, so the table is small.
        var lcs = new int[a.Length + 1, b.Length + 1];
        for (int i = a.Length - 1; i >= 0; i--)
            for (int j = b.Length - 1; j >= 0; j--)
                lcs[i, j] = a[i] == b[j] ? lcs[i + 1, j + 1] + 1 : Math.Max(lcs[i + 1, j], lcs[i, j + 1]);
        var diff = new StringBuilder();
        int x = 0, y = 0;
        while (x < a.Length || y < b.Length)
        {
            if (x < a.Length && y < b.Length && a[x] == b[y]) { x++; y++; }
            else if (x < a.Length && (y == b.Length || lcs[x + 1, y] >= lcs[x, y + 1])) diff.Append(CultureInfo.InvariantCulture, $"- {a[x++]}\n");
            else diff.Append(CultureInfo.InvariantCulture, $"+ {b[y++]}\n");
        }
        if (diff.Length == 0) diff.Append("(the same lines; they differ in line endings or a missing last newline)\n");
        return diff.ToString();
    }

    private static string[] Lines(string text) => text.Length == 0 ? [] : text.TrimEnd('\n').Split('\n');

    /// <summary>Fails the test with the diff when <paramref name="transcript"/> is not the kernel's; <paramref name="what"/> names the run.</summary>
    public static void AssertSameAsKernel(string transcript, string what)
    {
        string? diff = Difference(transcript);
        if (diff is not null) Assert.Fail($"{what}: {diff}\nthe whole transcript:\n{transcript}");
    }
}

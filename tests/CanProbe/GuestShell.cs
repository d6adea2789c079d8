using System.Diagnostics;

namespace AmpCan.Tests.CanProbe;

/// <summary>The guest's own tools (ip, cansend, candump, cangen), run to completion or kept running, each with a time bound.</summary>
internal static class GuestShell
{
    /// <summary>Runs <paramref name="file"/> to completion; throws with its output when it fails or outlives 30 s.</summary>
    public static string Run(string file, params string[] args)
    {
        using Process p = Start(file, args, redirect: true);
        Task<string> o = p.StandardOutput.ReadToEndAsync(), e = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            p.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} did not finish within 30 s");
        }
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {p.ExitCode}: {e.Result.Trim()} {o.Result.Trim()}");
        return o.Result;
    }

    /// <summary>Starts <paramref name="file"/> and leaves it running (the caller kills it).</summary>
    public static Process Start(string file, string[] args, bool redirect)
    {
        var psi = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = redirect, RedirectStandardError = redirect };
        foreach (string a in args) psi.ArgumentList.Add(a);
        return Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
    }

    /// <summary>Ends a process started here and reaps it.</summary>
    public static void Stop(Process p)
    {
        if (!p.HasExited) p.Kill(entireProcessTree: true);
        p.WaitForExit(10_000);
    }

    /// <summary>Polls <paramref name="condition"/> until it holds; throws naming <paramref name="what"/> when <paramref name="limit"/> passes first.</summary>
    public static void WaitUntil(Func<bool> condition, TimeSpan limit, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > limit) throw new TimeoutException($"{what}: not within {limit.TotalSeconds} s");
            Thread.Sleep(20); // a poll interval, not a synchronisation: the condition decides
        }
    }
}

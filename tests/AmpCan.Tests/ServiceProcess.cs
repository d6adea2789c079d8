using System.Diagnostics;
using System.Text;
using AmpCan.SharedMem;

namespace AmpCan.Tests.Host;

/// <summary>An <c>ampcan</c> service process with its console kept.</summary>
internal sealed class ServiceProcess(Process process, StringBuilder output, AutoResetEvent lineArrived) : IDisposable
{
    public Process Process { get; } = process;
    public string Output { get { lock (output) return output.ToString(); } }

    public static ServiceProcess Start(string workDir, IDictionary<string, string>? environment, params string[] args)
    {
        ProcessStartInfo psi = ProgramLauncher.StartInfo(CrossProcessVringTests.AmpcanDll, args);
        psi.WorkingDirectory = workDir;
        psi.Environment["AmpCan__ControlSocket"] = "none"; // not /run/ampcan's: tests run side by side; a test may give its own
        psi.Environment["AmpCan__RpmsgChar__FrontEnd"] = "none"; // nor its rpmsg directory; the rpmsg_char tests give theirs
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        var output = new StringBuilder();
        var lineArrived = new AutoResetEvent(false);
        var p = Process.Start(psi)!;
        DataReceivedEventHandler keep = (_, e) =>
        {
            if (e.Data is not null) lock (output) output.AppendLine(e.Data);
            lineArrived.Set(); // also at the end of the output (Data null): a waiter sees the exit
        };
        p.OutputDataReceived += keep;
        p.ErrorDataReceived += keep;
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return new ServiceProcess(p, output, lineArrived);
    }

    public void WaitForLine(string text, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            if (Process.HasExited || sw.Elapsed > timeout) Assert.Fail($"no line containing '{text}' within {timeout}; the service said:\n{Output}");
            lineArrived.WaitOne(TimeSpan.FromMilliseconds(500)); // the next line, or a look at the exit and the clock
        }
    }

    public int WaitForExit(TimeSpan timeout)
    {
        if (!Process.WaitForExit(timeout))
        {
            Process.Kill(entireProcessTree: true);
            Assert.Fail($"the service did not exit within {timeout}; it said:\n{Output}");
        }
        Process.WaitForExit();
        return Process.ExitCode;
    }

    /// <summary>The service's one child process (its simulated remote), from /proc.</summary>
    public int RemoteProcessId()
    {
        var clock = Stopwatch.StartNew();
        string parent = Process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
        while (clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            foreach (string d in Directory.GetDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(d), out int candidate)) continue;
                string stat;
                try { stat = File.ReadAllText(Path.Combine(d, "stat")); }
                catch (IOException) { continue; } // it ended while we looked
                string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (fields.Length > 1 && fields[1] == parent) return candidate;
            }
            Thread.Yield(); // a new process shows up in /proc; nothing to wait on but that
        }
        throw new AssertionException($"process {Process.Id} has no child");
    }

    public void Dispose()
    {
        if (!Process.HasExited) Process.Kill(entireProcessTree: true);
        Process.Dispose();
    }
}

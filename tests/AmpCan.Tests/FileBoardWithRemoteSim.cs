using System.Diagnostics;
using System.Text;
using AmpCan.SharedMem;

namespace AmpCan.Tests.Host;

/// <summary>
/// A board of OpenAMP's Linux-port kind on paths of its own (a /dev/shm file and a UNIX socket), removed afterwards,
/// and <c>ampcan remote-sim</c> processes started on it: what the tests of remote-sim's behaviour towards hosts and
/// other instances share.
/// </summary>
internal sealed class FileBoardWithRemoteSim : IDisposable
{
    public FileBoardWithRemoteSim(string tag)
    {
        Directory = System.IO.Directory.CreateTempSubdirectory($"ampcan-{tag}-").FullName;
        SharedFile = $"/dev/shm/ampcan-{tag}-{Guid.NewGuid().ToString("N")[..10]}";
        Socket = Path.Combine(Directory, "event.sock");
        Board = Path.Combine(Directory, "board.json");
        File.WriteAllText(Board, $$"""
            { "name": "{{tag}}", "sharedMemory": { "kind": "file", "path": "{{SharedFile}}", "size": "0x80000" },
              "rpmsg": { "bufferPoolOffset": "0x10000" }, "doorbell": { "kind": "unix-socket", "path": "{{Socket}}" },
              "remote": { "kind": "external", "services": { "echo": "rpmsg-echo" }, "startTimeoutSeconds": 20 } }
            """);
    }

    public string Directory { get; }
    public string SharedFile { get; }
    public string Socket { get; }
    public string Board { get; }

    /// <summary>Starts remote-sim on the board; with <paramref name="waitForSocket"/> returns once it listens.</summary>
    public RemoteSimProcess StartRemoteSim(bool waitForSocket = true)
    {
        var sim = new RemoteSimProcess(Board);
        if (waitForSocket) WaitFor(() => File.Exists(Socket) || sim.Process.HasExited, "remote-sim to listen");
        if (waitForSocket && sim.Process.HasExited) Assert.Fail($"remote-sim exited before it listened:\n{sim.Output}");
        return sim;
    }

    /// <summary>Waits for something another process creates: nothing to wait on but its appearance.</summary>
    public static void WaitFor(Func<bool> condition, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(60)) Assert.Fail($"timed out waiting for {what}");
            Thread.Sleep(10);
        }
    }

    public void Dispose()
    {
        foreach (string f in new[] { SharedFile, SharedFile + ".host.lock", SharedFile + ".remote.lock", Socket }) File.Delete(f);
        System.IO.Directory.Delete(Directory, true);
    }
}

/// <summary>An <c>ampcan remote-sim</c> process with its output kept.</summary>
internal sealed class RemoteSimProcess : IDisposable
{
    private readonly StringBuilder _out = new();

    public RemoteSimProcess(string board)
    {
        Process = Process.Start(ProgramLauncher.StartInfo(CrossProcessVringTests.AmpcanDll, "remote-sim", "--board", board))!;
        DataReceivedEventHandler keep = (_, e) => { if (e.Data is not null) lock (_out) _out.AppendLine(e.Data); };
        Process.OutputDataReceived += keep;
        Process.ErrorDataReceived += keep;
        Process.BeginOutputReadLine();
        Process.BeginErrorReadLine();
    }

    public Process Process { get; }

    public string Output { get { lock (_out) return _out.ToString(); } }

    /// <summary>Waits for the exit (killing it and failing the test after <paramref name="within"/>) and returns its code.</summary>
    public int Exit(TimeSpan within)
    {
        if (!Process.WaitForExit(within))
        {
            Process.Kill();
            Assert.Fail($"remote-sim still ran {within} later:\n{Output}");
        }
        Process.WaitForExit(); // drains the output
        return Process.ExitCode;
    }

    public void Dispose()
    {
        if (!Process.HasExited) Process.Kill();
        Process.Dispose();
    }
}

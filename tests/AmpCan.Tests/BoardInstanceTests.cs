using System.Diagnostics;
using System.Text;
using AmpCan.Remoteproc.Boards;
using AmpCan.SharedMem;

namespace AmpCan.Tests.Host;

/// <summary>
/// One instance per board and role, files that only their creator touches and removes: against a real second process
/// where one is involved (remote-sim), and files and sockets on the real file system.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class BoardInstanceTests
{
    private string _dir = "";
    private string _shm = "", _sock = "", _board = "";

    [SetUp]
    public void FileBoard()
    {
        _dir = Directory.CreateTempSubdirectory("ampcan-inst-").FullName;
        string id = Guid.NewGuid().ToString("N")[..10];
        _shm = $"/dev/shm/ampcan-inst-{id}";
        _sock = Path.Combine(_dir, "event.sock");
        _board = Path.Combine(_dir, "board.json");
        File.WriteAllText(_board, $$"""
            { "name": "inst", "sharedMemory": { "kind": "file", "path": "{{_shm}}", "size": "0x80000" },
              "rpmsg": { "bufferPoolOffset": "0x10000" }, "doorbell": { "kind": "unix-socket", "path": "{{_sock}}" },
              "remote": { "kind": "external", "services": { "echo": "rpmsg-echo" }, "startTimeoutSeconds": 20 } }
            """);
    }

    [TearDown]
    public void RemoveFiles()
    {
        foreach (string f in new[] { _shm, _shm + ".host.lock", _shm + ".remote.lock", _sock }) File.Delete(f);
        Directory.Delete(_dir, true);
    }

    private sealed class RemoteSim : IDisposable
    {
        private readonly StringBuilder _out = new();
        public Process Process { get; }

        public RemoteSim(string board)
        {
            ProcessStartInfo psi = ProgramLauncher.StartInfo(CrossProcessVringTests.AmpcanDll, "remote-sim", "--board", board);
            Process = Process.Start(psi)!;
            DataReceivedEventHandler keep = (_, e) => { if (e.Data is not null) lock (_out) _out.AppendLine(e.Data); };
            Process.OutputDataReceived += keep;
            Process.ErrorDataReceived += keep;
            Process.BeginOutputReadLine();
            Process.BeginErrorReadLine();
        }

        public string Output { get { lock (_out) return _out.ToString(); } }

        public int Exit(TimeSpan timeout)
        {
            if (!Process.WaitForExit(timeout)) { Process.Kill(); Assert.Fail($"remote-sim did not exit within {timeout}:\n{Output}"); }
            Process.WaitForExit();
            return Process.ExitCode;
        }

        public void Dispose()
        {
            if (!Process.HasExited) Process.Kill();
            Process.Dispose();
        }
    }

    private static void WaitFor(Func<bool> condition, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(30)) Assert.Fail($"timed out waiting for {what}");
            Thread.Sleep(10); // a file another process creates: nothing to wait on but its appearance
        }
    }

    [Test]
    public void ASecondRemoteSimIsRefusedNamingTheFirstAndTheFirstRemovesWhatItCreated()
    {
        using var first = new RemoteSim(_board);
        WaitFor(() => File.Exists(_sock), "the first remote's socket");
        Assert.That(Convert.ToString((int)File.GetUnixFileMode(_shm), 8), Is.EqualTo("600"), "created for its owner only");
        using (var second = new RemoteSim(_board))
        {
            Assert.That(second.Exit(TimeSpan.FromSeconds(60)), Is.EqualTo(1), second.Output);
            Assert.That(second.Output, Does.Contain($"pid {first.Process.Id}").And.Contain("remote-sim"), "the message names the holder");
            Assert.That(second.Output, Does.Not.Contain("   at "));
        }
        Assert.That(File.Exists(_shm) && File.Exists(_sock), Is.True, "the second touched nothing of the first's");

        Assert.That(Tmds.Linux.LibC.kill(first.Process.Id, Tmds.Linux.LibC.SIGTERM), Is.Zero);
        Assert.That(first.Exit(TimeSpan.FromSeconds(60)), Is.Zero, first.Output);
        Assert.That(File.Exists(_shm), Is.False, "whoever creates the shared file removes it");
        Assert.That(File.Exists(_sock), Is.False, "and its socket");
    }

    [Test]
    public void RemoteSimNeverFollowsASymlinkAtTheSharedFilesPath()
    {
        string victim = Path.Combine(_dir, "precious");
        File.WriteAllText(victim, "keep me");
        File.CreateSymbolicLink(_shm, victim);
        using var sim = new RemoteSim(_board);
        WaitFor(() => File.Exists(_sock) || sim.Process.HasExited, "the remote to start or stop");
        if (!sim.Process.HasExited) Tmds.Linux.LibC.kill(sim.Process.Id, Tmds.Linux.LibC.SIGTERM);
        sim.Exit(TimeSpan.FromSeconds(60));
        Assert.That(File.ReadAllText(victim), Is.EqualTo("keep me"), "the symlink's target is untouched");
    }

    [Test]
    public void ASecondHostOnTheSameBoardIsRefusedNamingTheFirst()
    {
        BoardDescriptor board = BoardDescriptor.Load(_board) with { Remote = new RemoteSpec { Kind = RemoteKind.Simulated } };
        using BoardHost first = BoardHost.Start(board);
        var e = Assert.Throws<InstanceLockedException>(() => BoardHost.Start(board))!;
        Assert.That(e.Message, Does.Contain($"pid {Environment.ProcessId}"));
        Assert.That(first.Rpmsg.IsReady, Is.True, "the first host's rings were not reset under it");
    }
}

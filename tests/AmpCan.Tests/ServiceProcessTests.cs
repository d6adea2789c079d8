using System.Diagnostics;
using System.Text;
using AmpCan.SharedMem;

namespace AmpCan.Tests.Host;

/// <summary>
/// The service as a supervisor sees it: its exit code, its console, its reaction to SIGINT, and which configuration it
/// takes, run as a real <c>ampcan</c> process.
/// </summary>
public class ServiceProcessTests
{
    private static ServiceProcess Start(string workDir, IDictionary<string, string>? environment, params string[] args) =>
        ServiceProcess.Start(workDir, environment, args);

    private static string TempDir() => Directory.CreateTempSubdirectory("ampcan-svc-").FullName;

    private static string WriteBoard(string dir, string json)
    {
        string f = Path.Combine(dir, "board.json");
        File.WriteAllText(f, json);
        return f;
    }

    private static string ExternalFileBoard(string shm) => $$"""
        { "name": "ext", "sharedMemory": { "kind": "file", "path": "{{shm}}", "size": "0x100000" },
          "rpmsg": { "bufferPoolOffset": "0x10000" }, "doorbell": { "kind": "polling" },
          "remote": { "kind": "external", "startTimeoutSeconds": 60 } }
        """;

    [Test]
    public void CtrlCWhileWaitingForAnExternalRemoteIsACleanStop()
    {
        string dir = TempDir();
        string board = WriteBoard(dir, ExternalFileBoard($"/dev/shm/ampcan-nobody-{Guid.NewGuid():N}"));
        using ServiceProcess svc = Start(dir, null, "--board", board);
        svc.WaitForLine("waiting for the remote to create", TimeSpan.FromSeconds(60));
        Assert.That(svc.Output, Does.Contain("(up to 60 s; Ctrl+C stops)"), "it says what it waits for and how long");
        Assert.That(Tmds.Linux.LibC.kill(svc.Process.Id, Tmds.Linux.LibC.SIGINT), Is.Zero);
        Assert.That(svc.WaitForExit(TimeSpan.FromSeconds(30)), Is.Zero, svc.Output);
        Assert.That(svc.Output, Does.Contain("stopped before the board was up").And.Not.Contain("crit:").And.Not.Contain("fail:"));
        Directory.Delete(dir, true);
    }

    [Test]
    public void AFailureToStartExitsNonZeroWithOneLineAndNoStackTrace()
    {
        string dir = TempDir();
        // More receive buffers than the simulated remote's 256-entry ring holds.
        string board = WriteBoard(dir, """
            { "name": "toomany", "sharedMemory": { "kind": "memfd", "size": "0x200000", "deviceAddress": "0x30000000" },
              "rpmsg": { "bufferPoolOffset": "0x10000", "rxBuffers": 300 }, "doorbell": { "kind": "event-fd" } }
            """);
        using ServiceProcess svc = Start(dir, null, "--board", board);
        Assert.That(svc.WaitForExit(TimeSpan.FromSeconds(60)), Is.EqualTo(1), svc.Output);
        string[] critical = svc.Output.Split('\n').Where(l => l.Contains("crit:", StringComparison.Ordinal)).ToArray();
        Assert.That(critical, Has.Length.EqualTo(1), svc.Output);
        Assert.That(critical[0], Does.Contain("300 receive buffers do not fit vq0, a ring of 256 entries"));
        Assert.That(svc.Output, Does.Not.Contain("   at ").And.Not.Contain("BackgroundService failed"), "no stack trace");
        Directory.Delete(dir, true);
    }

    [Test]
    public void TheServiceRecoversARemoteProcessThatDies()
    {
        string dir = TempDir();
        using (ServiceProcess svc = Start(dir, null, "--board", "sim", "--remote", "simulated-process"))
        {
            svc.WaitForLine("AmpCan is serving board sim", TimeSpan.FromSeconds(60));
            int remote = svc.RemoteProcessId();
            using (Process p = Process.GetProcessById(remote)) p.Kill();
            svc.WaitForLine("remote sim: crashed (the remote process exited", TimeSpan.FromSeconds(30));
            svc.WaitForLine("remote sim: recovered", TimeSpan.FromSeconds(60));
            Assert.That(svc.RemoteProcessId(), Is.Not.EqualTo(remote), "a new remote process");
            svc.Process.Kill(entireProcessTree: true);
        }
        Directory.Delete(dir, true);
    }

    [Test]
    public void TheServiceServesEveryCoreOfATwoCoreBoard()
    {
        string dir = TempDir();
        using (ServiceProcess svc = Start(dir, null, "--board", "sim-two-cores"))
        {
            svc.WaitForLine("AmpCan is serving board sim-two-cores", TimeSpan.FromSeconds(60));
            Assert.That(svc.Output, Does.Contain("remote sim-two-cores/m4: running").And.Contain("remote sim-two-cores/r5: running"));
            svc.Process.Kill(entireProcessTree: true);
        }
        Directory.Delete(dir, true);
    }


    [Test]
    public void TheBoardComesFromTheEnvironmentUnlessTheCommandLineGivesOne()
    {
        string dir = TempDir();
        // A board that fails at once and says its name: if the environment is read, this is what the service serves.
        string board = WriteBoard(dir, """
            { "name": "from-the-environment", "sharedMemory": { "kind": "memfd", "size": "0x100000" },
              "rpmsg": { "bufferPoolOffset": "0x10000" }, "doorbell": { "kind": "event-fd" }, "remote": { "kind": "external" } }
            """);
        var env = new Dictionary<string, string> { ["AmpCan__Board"] = board };
        using (ServiceProcess svc = Start(dir, env))
        {
            Assert.That(svc.WaitForExit(TimeSpan.FromSeconds(60)), Is.EqualTo(1), svc.Output);
            Assert.That(svc.Output, Does.Contain("board 'from-the-environment': an external remote cannot reach memfd"));
        }
        // appsettings.json in the working directory works the same; the command line still wins over both.
        File.WriteAllText(Path.Combine(dir, "appsettings.json"), $$"""{ "AmpCan": { "Board": "{{board}}", "Remote": "external" } }""");
        using (ServiceProcess svc = Start(dir, null, "echo-test", "--count", "1"))
        {
            Assert.That(svc.WaitForExit(TimeSpan.FromSeconds(60)), Is.EqualTo(1), svc.Output);
            Assert.That(svc.Output, Does.Contain("board 'from-the-environment'"), "echo-test reads the configuration too");
        }
        using (ServiceProcess svc = Start(dir, env, "echo-test", "--board", "sim", "--remote", "simulated", "--count", "3"))
        {
            Assert.That(svc.WaitForExit(TimeSpan.FromSeconds(60)), Is.Zero, svc.Output);
            Assert.That(svc.Output, Does.Contain("3 messages of 1..496 bytes, 0 errors"));
        }
        Directory.Delete(dir, true);
    }

    [Test]
    public void AConfiguredValueThatIsNoChoiceNamesItsKey()
    {
        string dir = TempDir();
        using ServiceProcess svc = Start(dir, new Dictionary<string, string> { ["AmpCan__Mode"] = "sometimes" });
        Assert.That(svc.WaitForExit(TimeSpan.FromSeconds(60)), Is.EqualTo(1), svc.Output);
        Assert.That(svc.Output, Does.Contain("configuration AmpCan:Mode (environment AmpCan__Mode): 'sometimes' is not one of polling, doorbell, adaptive"));
        Directory.Delete(dir, true);
    }
}

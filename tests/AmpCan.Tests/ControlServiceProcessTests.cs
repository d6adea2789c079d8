using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using AmpCan.SharedMem;

namespace AmpCan.Tests.Host;

/// <summary>
/// The control plane end to end: the real service process with a board whose core has recovery disabled, its remote a
/// process of its own, and the real <c>ampcan</c> commands talking to it over its control socket.
/// </summary>
[NonParallelizable]
public class ControlServiceProcessTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private static ServiceProcess Service(string workDir, string board, string socket) =>
        ServiceProcess.Start(workDir, new Dictionary<string, string> { ["AmpCan__ControlSocket"] = socket }, "--board", board, "--remote", "simulated-process");

    private static (int Code, string Output, string Error) Ampcan(params string[] args)
    {
        using var p = Process.Start(ProgramLauncher.StartInfo(CrossProcessVringTests.AmpcanDll, args))!;
        Task<string> output = p.StandardOutput.ReadToEndAsync(), error = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(Patience))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"ampcan {string.Join(' ', args)} did not exit within {Patience}");
        }
        return (p.ExitCode, output.Result, error.Result);
    }

    // The status polls ask from this process (the same client code, over the real socket to the real service): a
    // process per poll would cost a dotnet start-up each on a busy machine; the changes go through real ampcan processes.
    private static JsonElement Status(string socket)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = AmpCan.Host.Commands.ControlCommands.Run("status", null, socket, json: true, output, error, CancellationToken.None).GetAwaiter().GetResult();
        Assert.That(code, Is.Zero, error.ToString());
        return JsonDocument.Parse(output.ToString()).RootElement.GetProperty("cores").EnumerateArray().Single().Clone();
    }

    // Running, with its channels announced again (the name service brings them a moment after the core is up).
    private static JsonElement RunningWithChannels(string socket)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            JsonElement core = Status(socket);
            string[] channels = [.. core.GetProperty("channels").EnumerateArray().Select(c => c.GetString()!)];
            if (core.GetProperty("state").GetString() == "running" && channels.Contains("rpmsg-echo")) return core;
            if (clock.Elapsed > Patience) Assert.Fail($"not running with its channels within {Patience}: {core}");
            Thread.Yield();
        }
    }

    [Test]
    public void ACrashedCoreWithRecoveryDisabledIsRecoveredStoppedAndStartedByTheCommands()
    {
        string dir = Directory.CreateTempSubdirectory("ampcan-ctl-svc-").FullName;
        try
        {
            string sim = File.ReadAllText(Path.Combine(TestContext.CurrentContext.TestDirectory, "boards", "sim.json"));
            Assert.That(sim, Does.Contain("\"recovery\": \"enabled\""));
            string board = Path.Combine(dir, "board.json");
            File.WriteAllText(board, sim.Replace("\"recovery\": \"enabled\"", "\"recovery\": \"disabled\"", StringComparison.Ordinal));
            string socket = Path.Combine(dir, "ctl.sock");

            using (var svc = Service(dir, board, socket))
            {
                svc.WaitForLine($"control socket {socket} (mode 0600", Patience);
                svc.WaitForLine("AmpCan is serving board sim", Patience);
                RunningWithChannels(socket);

                int remote = svc.RemoteProcessId();
                using (Process p = Process.GetProcessById(remote)) p.Kill();
                svc.WaitForLine("recovery is disabled; it stays crashed", Patience);
                JsonElement crashed = Status(socket);
                Assert.That(crashed.GetProperty("state").GetString(), Is.EqualTo("crashed"), svc.Output);
                Assert.That(crashed.GetProperty("crashes").GetInt32(), Is.EqualTo(1));
                Assert.That(crashed.GetProperty("lastCrash").GetString(), Does.StartWith("the remote process exited"));
                Assert.That(crashed.GetProperty("channels").GetArrayLength(), Is.Zero);
                var (code, output, error) = Ampcan("status", "--socket", socket);
                Assert.That((code, error), Is.EqualTo((0, "")));
                Assert.That(output, Does.Match(@"sim\s+crashed\s+1\s+-\s+-").And.Contain("last crash: the remote process exited"), "the human table");

                (code, output, error) = Ampcan("recover", "--socket", socket);
                Assert.That((code, output, error), Is.EqualTo((0, "remote sim: running\n", "")), svc.Output);
                RunningWithChannels(socket);
                Assert.That(svc.RemoteProcessId(), Is.Not.EqualTo(remote), "a new remote process");
                svc.WaitForLine("control: recover sim asked by process ", Patience);

                (code, output, error) = Ampcan("stop", "--socket", socket);
                Assert.That((code, output, error), Is.EqualTo((0, "remote sim: offline\n", "")), svc.Output);
                Assert.That(Status(socket).GetProperty("state").GetString(), Is.EqualTo("offline"));
                (code, _, error) = Ampcan("recover", "--socket", socket);
                Assert.That((code, error), Is.EqualTo((1, "ampcan: cannot recover remote sim: it is offline\n")));

                (code, output, error) = Ampcan("start", "--socket", socket);
                Assert.That((code, output, error), Is.EqualTo((0, "remote sim: running\n", "")), svc.Output);
                RunningWithChannels(socket);

                // A second service on the same socket is refused, naming the socket and who holds it.
                using (var second = Service(dir, board, socket))
                {
                    Assert.That(second.WaitForExit(Patience), Is.EqualTo(1), second.Output);
                    Assert.That(second.Output, Does.Contain($"cannot serve the control socket: control socket '{socket}' is in use by process {svc.Process.Id.ToString(CultureInfo.InvariantCulture)} ("));
                }
                Assert.That(Status(socket).GetProperty("state").GetString(), Is.EqualTo("running"), "the first serves on");

                Assert.That(Tmds.Linux.LibC.kill(svc.Process.Id, Tmds.Linux.LibC.SIGINT), Is.Zero);
                Assert.That(svc.WaitForExit(Patience), Is.Zero, svc.Output);
            }
            Assert.That(File.Exists(socket), Is.False, "the socket file goes with the service");
            var (gone, _, said) = Ampcan("status", "--socket", socket);
            Assert.That(gone, Is.EqualTo(2));
            Assert.That(said, Does.StartWith($"ampcan: cannot reach the service at {socket}: No such file or directory (errno 2, ENOENT)"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

}

using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using AmpCan.Host.Boards;
using AmpCan.Host.Commands;
using AmpCan.Host.Control;
using AmpCan.Remoteproc.Boards;
using AmpCan.Remoteproc.Lifecycle;
using AmpCan.Simulation;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace AmpCan.Tests.Host;

/// <summary>
/// The control socket in this process, over a real UNIX socket in a temporary directory, in front of real
/// <see cref="RemoteCoreLifecycle"/>s of the sim boards (their remotes simulated in-process): the commands, their
/// refusals, bad requests, and the socket file's life (stale, held, permissions).
/// </summary>
[NonParallelizable]
public class ControlSocketTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private string _dir = null!;

    [SetUp]
    public void MakeDirectory() => _dir = Directory.CreateTempSubdirectory("ampcan-ctl-").FullName;

    [TearDown]
    public void RemoveDirectory() => Directory.Delete(_dir, recursive: true);

    private string SocketPath => Path.Combine(_dir, "ctl.sock");

    private static string BoardPath(string name) => Path.Combine(TestContext.CurrentContext.TestDirectory, "boards", name + ".json");

    private static RemoteCoreLifecycle SimCore(RecoveryPolicy recovery = RecoveryPolicy.Enabled)
    {
        BoardDescriptor board = BoardDescriptor.Load(BoardPath("sim"));
        board = board with { Core = board.EffectiveCore with { Recovery = recovery } };
        return BoardLifecycle.Create(board, new BoardHostOptions { Remote = RemoteKind.Simulated });
    }

    private ControlServer Serve(params RemoteCoreLifecycle[] cores) =>
        ControlServer.Start(new ControlSocketSettings { Path = SocketPath, Required = true }, () => cores, NullLogger.Instance);

    /// <summary>Sends raw bytes as a client would and returns the response line, parsed.</summary>
    private JsonElement Exchange(byte[] request)
    {
        using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.ReceiveTimeout = (int)Patience.TotalMilliseconds;
        s.Connect(new UnixDomainSocketEndPoint(SocketPath));
        s.Send(request);
        var received = new MemoryStream();
        byte[] buffer = new byte[4096];
        int n;
        while ((n = s.Receive(buffer)) > 0) received.Write(buffer, 0, n);
        string text = Encoding.UTF8.GetString(received.ToArray());
        Assert.That(text, Does.EndWith("\n"), "one response line");
        Assert.That(text.TrimEnd('\n'), Does.Not.Contain("\n"), "one response line");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private JsonElement Exchange(string request) => Exchange(Encoding.UTF8.GetBytes(request));

    private (int Code, string Output, string Error) Cli(string command, string? core = null, bool json = false)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = ControlCommands.Run(command, core, SocketPath, json, output, error, CancellationToken.None).GetAwaiter().GetResult();
        return (code, output.ToString(), error.ToString());
    }

    private JsonElement Status(string? core = null)
    {
        var (code, output, error) = Cli("status", core, json: true);
        Assert.That(code, Is.Zero, error);
        return JsonDocument.Parse(output).RootElement.GetProperty("cores").Clone();
    }

    private static string[] Channels(JsonElement core) => [.. core.GetProperty("channels").EnumerateArray().Select(c => c.GetString()!)];

    // The channels come back through the name service a moment after the core is running again.
    private string[] ChannelsOnceAnnounced()
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            string[] channels = Channels(Status()[0]);
            if (channels.Contains("rpmsg-echo") || clock.Elapsed > Patience) return channels;
            Thread.Yield();
        }
    }

    [Test]
    public void StatusRecoverStopAndStartGoThroughTheSocketWithRecoveryDisabled()
    {
        using RemoteCoreLifecycle core = SimCore(RecoveryPolicy.Disabled);
        var states = new BlockingCollection<RemoteCoreState>();
        core.StateChanged += states.Add;
        core.Start();
        using ControlServer server = Serve(core);

        Assert.That(ChannelsOnceAnnounced(), Does.Contain("rpmsg-echo"));
        var (code, output, _) = Cli("status");
        Assert.That(code, Is.Zero);
        Assert.That(output, Does.Match(@"sim\s+running\s+0\s+-\s+rpmsg-echo"), "the human table");

        ((BoardSession)core.Session!).Host.SimulatedRemote!.Crash(SimulatedCrash.Fault);
        Assert.That(states.TryTake(out _, Patience), Is.True); // running
        Assert.That(states.TryTake(out RemoteCoreState crashed, Patience) && crashed == RemoteCoreState.Crashed, Is.True, "the crash seen");
        JsonElement status = Status()[0];
        Assert.That(status.GetProperty("state").GetString(), Is.EqualTo("crashed"), "recovery disabled: it stays crashed");
        Assert.That(status.GetProperty("crashes").GetInt32(), Is.EqualTo(1));
        Assert.That(status.GetProperty("lastCrash").GetString(), Does.Contain("DEVICE_NEEDS_RESET"));
        Assert.That(Channels(status), Is.Empty, "a crashed core serves no channels");

        (code, output, string error) = Cli("recover");
        Assert.That((code, output, error), Is.EqualTo((0, "remote sim: running\n", "")));
        Assert.That(ChannelsOnceAnnounced(), Does.Contain("rpmsg-echo").And.Contain("rpmsg-raw"), "channels back");

        (code, output, _) = Cli("stop");
        Assert.That((code, output), Is.EqualTo((0, "remote sim: offline\n")));
        Assert.That(Status()[0].GetProperty("state").GetString(), Is.EqualTo("offline"));
        Assert.That(core.State, Is.EqualTo(RemoteCoreState.Offline), "the lifecycle itself was stopped");

        (code, output, error) = Cli("recover");
        Assert.That(code, Is.EqualTo(ControlCommands.Refused), "the lifecycle's refusal is an error");
        Assert.That(error, Is.EqualTo("ampcan: cannot recover remote sim: it is offline\n"));
        Assert.That(output, Is.Empty);

        (code, output, error) = Cli("start", json: true);
        Assert.That(code, Is.Zero, error);
        Assert.That(JsonDocument.Parse(output).RootElement.GetProperty("cores")[0].GetProperty("state").GetString(), Is.EqualTo("running"));
        Assert.That(ChannelsOnceAnnounced(), Does.Contain("rpmsg-echo"));
    }

    [Test]
    public void TheLifecyclesRefusalsComeBackAsErrorsWithTheCoresState()
    {
        using RemoteCoreLifecycle core = SimCore();
        core.Start();
        using ControlServer server = Serve(core);
        var (code, output, error) = Cli("attach", json: true);
        Assert.That(code, Is.EqualTo(ControlCommands.Refused));
        Assert.That(error, Is.Empty, "--json: the response says it");
        JsonElement response = JsonDocument.Parse(output).RootElement;
        Assert.That(response.GetProperty("ok").GetBoolean(), Is.False);
        Assert.That(response.GetProperty("error").GetString(), Is.EqualTo("cannot attach to remote sim: it is running"));
        Assert.That(response.GetProperty("cores")[0].GetProperty("state").GetString(), Is.EqualTo("running"), "and what the core is");

        (code, _, error) = Cli("detach");
        Assert.That(code, Is.EqualTo(ControlCommands.Refused));
        Assert.That(error, Does.Contain("cannot detach: the remote was started by this host and stops with it"), "a remote in this process cannot be left running");
        Assert.That(core.State, Is.EqualTo(RemoteCoreState.Running), "and nothing was torn down");

        Assert.That(Cli("stop").Code, Is.Zero);
        (code, output, error) = Cli("attach");
        Assert.That(code, Is.EqualTo(ControlCommands.Refused));
        Assert.That(error, Does.StartWith("ampcan: board 'sim': attaching needs a remote that runs on its own").And.EndWith("which this host would start itself\n"),
            "a session that cannot attach says why");
        Assert.That(core.State, Is.EqualTo(RemoteCoreState.Offline));
    }

    [Test]
    public void OnATwoCoreBoardACommandNamesItsCoreAndStatusShowsEvery()
    {
        BoardFile file = BoardFile.Load(BoardPath("sim-two-cores"));
        RemoteCoreLifecycle[] cores = [.. file.Cores.Select(c => BoardLifecycle.Create(c, new BoardHostOptions { Remote = RemoteKind.Simulated }))];
        try
        {
            foreach (RemoteCoreLifecycle c in cores) c.Start();
            using ControlServer server = Serve(cores);
            var (code, _, error) = Cli("stop");
            Assert.That(code, Is.EqualTo(ControlCommands.Refused));
            Assert.That(error, Is.EqualTo("ampcan: cannot stop: the board has 2 cores (sim-two-cores/m4, sim-two-cores/r5); name one\n"));
            Assert.That(cores.Select(c => c.State), Is.All.EqualTo(RemoteCoreState.Running), "nothing was stopped");

            (code, string output, error) = Cli("stop", "r5");
            Assert.That((code, output, error), Is.EqualTo((0, "remote sim-two-cores/r5: offline\n", "")), "a core by its name in the board file");
            JsonElement all = Status();
            Assert.That(all.EnumerateArray().Select(c => (c.GetProperty("name").GetString(), c.GetProperty("state").GetString())),
                Is.EqualTo(new[] { ("sim-two-cores/m4", "running"), ("sim-two-cores/r5", "offline") }));
            Assert.That(Status("sim-two-cores/m4").GetArrayLength(), Is.EqualTo(1), "a core by its full name");

            (code, _, error) = Cli("start", "a9");
            Assert.That((code, error), Is.EqualTo((ControlCommands.Refused, "ampcan: no core 'a9' (the cores: sim-two-cores/m4, sim-two-cores/r5)\n")));
        }
        finally
        {
            foreach (RemoteCoreLifecycle c in cores) c.Dispose();
        }
    }

    [TestCase("{\"command\":\"reboot\"}\n", "unknown command 'reboot' (the commands are status, start, stop, recover, crash, attach, detach)")]
    [TestCase("{\"command\":\"stop\",\"core\":\"nope\"}\n", "no core 'nope' (the cores: sim)")]
    [TestCase("{\"command\":\n", "malformed request: not JSON")]
    [TestCase("status\n", "malformed request: not JSON ('s' is an invalid start of a value, at byte 0): status")]
    [TestCase("[\"status\"]\n", "malformed request: a JSON object is expected, not an array")]
    [TestCase("{\"command\":\"status\",\"verbose\":true}\n", "malformed request: unknown field \"verbose\" (the fields are command and core)")]
    [TestCase("{\"command\":7}\n", "malformed request: \"command\" must be a string, not a number")]
    [TestCase("{\"core\":\"sim\"}\n", "malformed request: no \"command\"")]
    [TestCase("\n", "empty request")]
    [TestCase("{\"command\":\"\\ud800\"}\n", "malformed request: a string that is no text (a lone surrogate escape)")]
    public void ABadRequestIsAnsweredWithAnErrorNamingItAndCostsThatConnectionOnly(string request, string said)
    {
        using RemoteCoreLifecycle core = SimCore(); // offline: nothing here needs it running
        using ControlServer server = Serve(core);
        JsonElement response = Exchange(request);
        Assert.That(response.GetProperty("ok").GetBoolean(), Is.False);
        Assert.That(response.GetProperty("error").GetString(), Does.StartWith(said));
        Assert.That(Status()[0].GetProperty("state").GetString(), Is.EqualTo("offline"), "the server serves on");
    }

    [Test]
    public void InvalidUtf8AndAnOversizedLineAreAnsweredToo()
    {
        using RemoteCoreLifecycle core = SimCore();
        using ControlServer server = Serve(core);
        JsonElement response = Exchange([.. "{\"command\":\""u8, 0xff, .. "\"}\n"u8]);
        Assert.That(response.GetProperty("error").GetString(), Is.EqualTo("malformed request: not UTF-8 (byte 0xff at 12): {\"command\":\"\\xff\"}"));

        byte[] huge = Encoding.ASCII.GetBytes("{\"command\":\"status\",\"core\":\"" + new string('x', 10_000) + "\"}\n");
        response = Exchange(huge);
        Assert.That(response.GetProperty("ok").GetBoolean(), Is.False);
        Assert.That(response.GetProperty("error").GetString(), Is.EqualTo("request too long: no newline within 4096 bytes (a request is one line of at most 4096 bytes)"));
        Assert.That(Status()[0].GetProperty("state").GetString(), Is.EqualTo("offline"), "the server serves on");
    }

    [Test]
    public void AClientThatSendsNothingIsAnsweredAfterTheRequestTimeout()
    {
        using RemoteCoreLifecycle core = SimCore();
        using ControlServer server = Serve(core);
        var clock = Stopwatch.StartNew();
        JsonElement response = Exchange([.. "{\"comm"u8]); // a start, no newline, the connection left open
        Assert.That(response.GetProperty("error").GetString(), Is.EqualTo("no request line within 5 s"));
        Assert.That(clock.Elapsed, Is.GreaterThanOrEqualTo(ControlServer.RequestTimeout - TimeSpan.FromMilliseconds(100)));
    }

    [Test]
    public void AStaleSocketIsReplacedALiveOneIsRefusedNamingItsHolder()
    {
        LeaveSocketFile(SocketPath); // what a service that died leaves
        Assert.That(File.Exists(SocketPath), Is.True);
        var (code, _, error) = Cli("status");
        Assert.That(code, Is.EqualTo(ControlCommands.Unreachable));
        Assert.That(error, Is.EqualTo($"ampcan: cannot reach the service at {SocketPath}: Connection refused (errno 111, ECONNREFUSED): a socket file nobody listens on; the service is not running\n"));

        using RemoteCoreLifecycle core = SimCore();
        using (ControlServer server = Serve(core))
        {
            Assert.That(Status()[0].GetProperty("name").GetString(), Is.EqualTo("sim"), "the stale file was replaced");
            var e = Assert.Throws<ControlSocketException>(() => Serve(core))!;
            Assert.That(e.Message, Does.StartWith($"control socket '{SocketPath}' is in use by process {Environment.ProcessId} (")
                .And.Contain(", uid ").And.Contain("another AmpCan service listens on it"));
            Assert.That(Status()[0].GetProperty("name").GetString(), Is.EqualTo("sim"), "the live one serves on");
        }
        Assert.That(File.Exists(SocketPath), Is.False, "removed when the server stopped");
        (code, _, error) = Cli("status");
        Assert.That(code, Is.EqualTo(ControlCommands.Unreachable));
        Assert.That(error, Does.Contain($"{SocketPath}: No such file or directory (errno 2, ENOENT): no socket there"));

        File.WriteAllText(SocketPath, "not a socket");
        var notSocket = Assert.Throws<ControlSocketException>(() => Serve(core))!;
        Assert.That(notSocket.Message, Does.Contain(SocketPath).And.Contain("not a socket"));
        Assert.That(File.ReadAllText(SocketPath), Is.EqualTo("not a socket"), "left alone");
    }

    [Test]
    public void TheSocketGetsTheConfiguredModeAndGroup()
    {
        if (Environment.UserName != "root") Assert.Ignore("giving the socket another group needs root (chown); this run is not root");
        using RemoteCoreLifecycle core = SimCore();
        var settings = new ControlSocketSettings { Path = SocketPath, Required = true, Mode = (UnixFileMode)Convert.ToInt32("660", 8), Group = "daemon" };
        using (ControlServer.Start(settings, () => [core], NullLogger.Instance))
        {
            var (code, output, error) = KernelVmHarness.Run("stat", ["-c", "%A %U %G", SocketPath], Patience);
            Assert.That((code, error), Is.EqualTo((0, "")));
            Assert.That(output.Trim(), Is.EqualTo("srw-rw---- root daemon"));
        }
        var bad = Assert.Throws<ControlSocketException>(() => ControlServer.Start(settings with { Group = "no-such-group-here" }, () => [core], NullLogger.Instance))!;
        Assert.That(bad.Message, Is.EqualTo("configuration AmpCan:ControlSocketGroup: no group 'no-such-group-here' in /etc/group (give a name listed there or a number)"));
        Assert.That(File.Exists(SocketPath), Is.False, "nothing left behind");
    }

    [Test]
    public void TheDefaultPathIsSystemdsRuntimeDirectoryThenRunAmpcanThenTheUsers()
    {
        var empty = new ConfigurationBuilder().Build();
        Func<string, string?> systemd = k => k switch { "RUNTIME_DIRECTORY" => "/run/ampcan-unit:/run/other", "XDG_RUNTIME_DIR" => "/run/user/1000", _ => null };
        ControlSocketSettings s = ControlSocketSettings.ForService(empty, systemd);
        Assert.That((s.Path, s.Required, s.ModeText), Is.EqualTo(("/run/ampcan-unit/ampcan.sock", true, "0600")));

        var configured = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["AmpCan:ControlSocket"] = "/srv/ctl.sock",
            ["AmpCan:ControlSocketMode"] = "0660",
        }).Build();
        s = ControlSocketSettings.ForService(configured, systemd);
        Assert.That((s.Path, s.Required, s.ModeText), Is.EqualTo(("/srv/ctl.sock", true, "0660")));
        Assert.That(ControlSocketSettings.ForClient(null, configured, systemd), Is.EqualTo("/srv/ctl.sock"));
        Assert.That(ControlSocketSettings.ForClient("/given.sock", configured, systemd), Is.EqualTo("/given.sock"));

        var badMode = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["AmpCan:ControlSocketMode"] = "rw-rw----" }).Build();
        Assert.That(() => ControlSocketSettings.ForService(badMode, systemd), Throws.TypeOf<ConfigurationValueException>()
            .With.Message.EqualTo("configuration AmpCan:ControlSocketMode (environment AmpCan__ControlSocketMode): 'rw-rw----' is not a permission in octal, 0000 to 0777 (such as 0660)"));

        var off = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["AmpCan:ControlSocket"] = "none" }).Build();
        s = ControlSocketSettings.ForService(off, systemd);
        Assert.That((s.Path, s.Off), Is.EqualTo(((string?)null, true)));

        Func<string, string?> user = k => k == "XDG_RUNTIME_DIR" ? "/run/user/1000" : null;
        s = ControlSocketSettings.ForService(empty, user);
        string expected = Environment.UserName == "root" ? "/run/ampcan/ampcan.sock" : "/run/user/1000/ampcan.sock";
        Assert.That((s.Path, s.Required), Is.EqualTo((expected, false)), "a guessed place: given up with a warning if it fails");
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "bind", SetLastError = true)]
    private static extern int Bind(int fd, byte[] address, uint length);

    // Binds a UNIX socket and closes it without removing its file, as a process that died would (.NET's Socket removes
    // the file it bound when disposed).
    private static void LeaveSocketFile(string path)
    {
        byte[] address = new byte[110]; // struct sockaddr_un: sa_family_t sun_family, char sun_path[108]
        address[0] = (byte)Tmds.Linux.LibC.AF_UNIX;
        Encoding.UTF8.GetBytes(path).CopyTo(address, 2);
        int fd = Tmds.Linux.LibC.socket(Tmds.Linux.LibC.AF_UNIX, Tmds.Linux.LibC.SOCK_STREAM | Tmds.Linux.LibC.SOCK_CLOEXEC, 0);
        Assert.That(fd, Is.GreaterThanOrEqualTo(0), "socket");
        try { Assert.That(Bind(fd, address, (uint)address.Length), Is.Zero, $"bind {path}"); }
        finally { Tmds.Linux.LibC.close(fd); }
    }
}

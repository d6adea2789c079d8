using System.Runtime.InteropServices;
using System.CommandLine;
using AmpCan.Host.Bench;
using AmpCan.Host.Peers;
using AmpCan.Host.Service;
using AmpCan.Remoteproc.Boards;
using AmpCan.Remoteproc.Simulation;
using AmpCan.SharedMem.Doorbells;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AmpCan.Host;

/// <summary>The <c>ampcan</c> command line.</summary>
public static class Program
{
    /// <summary>Entry point.</summary>
    public static int Main(string[] args)
    {
        try
        {
            return BuildCommandLine().Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (e is BoardException or AmpCan.SharedMem.SharedMemoryException or TimeoutException
                                   or AmpCan.Remoteproc.ResourceTableException or AmpCan.Rpmsg.RpmsgException)
        {
            Console.Error.WriteLine($"ampcan: {e.Message}");
            return 1;
        }
    }

    /// <summary>Builds the command tree (separate for tests).</summary>
    public static RootCommand BuildCommandLine()
    {
        var board = new Option<string>("--board", "-b") { Description = "Board file, or a name under boards/ (sim, openamp-linux)", DefaultValueFactory = _ => "sim" };
        var remote = new Option<RemoteKind?>("--remote") { Description = "Where the remote runs: simulated (a thread), simulated-process, external" };
        remote.CustomParser = r => ParseEnum<RemoteKind>(r.Tokens[0].Value, "--remote", r);
        remote.HelpName = "simulated|simulated-process|external";
        var mode = new Option<NotificationMode?>("--mode") { Description = "How the event loop waits: polling, doorbell, adaptive" };
        mode.CustomParser = r => ParseEnum<NotificationMode>(r.Tokens[0].Value, "--mode", r);
        mode.HelpName = "polling|doorbell|adaptive";
        var root = new RootCommand("AmpCan: AMP IPC backend for the Linux master. Without a command it serves a board (default: the simulated board).")
        {
            board, remote, mode,
        };
        root.SetAction((r, ct) => RunService(r.GetValue(board)!, r.GetValue(remote), r.GetValue(mode), ct));

        var bench = new Command("bench", "Measure the stack; figures go to BENCHMARKS.md");
        var json = new Option<bool>("--json") { Description = "End with one JSON line holding every figure and ratio" };
        var quick = new Option<bool>("--quick") { Description = "Short run (smoke test); figures are noisy" };
        var filter = new Option<string?>("--filter") { Description = "Run only the cases whose key contains this (e.g. rt.busypoll.16)" };
        BenchSettings Settings(ParseResult r) => (r.GetValue(quick) ? BenchSettings.Quick : new BenchSettings()) with { Filter = r.GetValue(filter) };
        var vring = new Command("vring", "Raw floors and split-vring round trip, throughput, allocation and idle CPU") { json, quick, filter };
        vring.SetAction(r =>
        {
            var report = new VringBench(Settings(r), Console.Error).Run();
            report.WriteTable(Console.Out);
            if (r.GetValue(json)) report.WriteJson(Console.Out);
            return 0;
        });
        bench.Subcommands.Add(vring);
        var rpmsgBoard = new Option<string>("--board", "-b") { Description = "Board file or name (an in-process simulated remote runs on it)", DefaultValueFactory = _ => "sim" };
        var rpmsg = new Command("rpmsg", "rpmsg echo round trip and pipelined throughput through the whole stack, with the vring round trip for the ratio") { json, quick, filter, rpmsgBoard };
        rpmsg.SetAction(r =>
        {
            var report = new RpmsgBench(Settings(r), Console.Error, BoardFiles.Resolve(r.GetValue(rpmsgBoard)!)).Run();
            report.WriteTable(Console.Out);
            if (r.GetValue(json)) report.WriteJson(Console.Out);
            return 0;
        });
        bench.Subcommands.Add(rpmsg);
        root.Subcommands.Add(bench);

        var remoteBoard = new Option<string>("--board", "-b") { Description = "Board file, or a name under boards/", DefaultValueFactory = _ => "sim" };
        var handoff = new Option<string?>("--handoff") { Description = "UNIX socket on which the host hands over the memfd and doorbell" };
        var latency = new Option<double>("--reply-latency-ms") { Description = "Delay before each reply, in milliseconds" };
        var silentAfter = new Option<int?>("--silent-after") { Description = "Stop answering after this many messages" };
        var crashAfter = new Option<int?>("--crash-after") { Description = "Crash (the core's loop stops dead) on the message after this many" };
        var garbageAfter = new Option<int?>("--garbage-after") { Description = "Write garbage instead of answering the message after this many" };
        var garbage = new Option<GarbageKind>("--garbage") { Description = "What --garbage-after writes", DefaultValueFactory = _ => GarbageKind.UsedRing, HelpName = "used-ring|oversized-header|name-service" };
        garbage.CustomParser = r => ParseEnum<GarbageKind>(r.Tokens[0].Value, "--garbage", r) ?? default;
        var floodAfter = new Option<int?>("--flood-after") { Description = "Answer the message after this many with a flood to its sender" };
        var scriptDefaults = new SimulatedRemoteScript();
        var floodCount = new Option<int?>("--flood-count") { Description = $"Messages in the flood (default {scriptDefaults.FloodCount})" };
        var floodSize = new Option<int?>("--flood-size") { Description = $"Payload bytes per flood message (default {scriptDefaults.FloodSize})" };
        var remoteSim = new Command("remote-sim", "Run the simulated remote core in this process (for memfd boards the host starts it with --handoff)")
            { remoteBoard, handoff, latency, silentAfter, crashAfter, garbageAfter, garbage, floodAfter, floodCount, floodSize };
        remoteSim.Validators.Add(r =>
        {
            if (r.GetValue(latency) < 0) r.AddError("--reply-latency-ms must not be negative");
            foreach (var o in new[] { silentAfter, crashAfter, garbageAfter, floodAfter })
                if (r.GetValue(o) < 0) r.AddError($"{o.Name} must not be negative");
            if (r.GetValue(floodCount) < 1) r.AddError("--flood-count must be at least 1");
            if (r.GetValue(floodSize) is < 4 or > 65535) r.AddError("--flood-size must be between 4 and 65535 bytes");
        });
        remoteSim.SetAction((r, ct) =>
        {
            var script = scriptDefaults with
            {
                ReplyLatency = TimeSpan.FromMilliseconds(r.GetValue(latency)),
                SilentAfter = r.GetValue(silentAfter), CrashAfter = r.GetValue(crashAfter),
                GarbageAfter = r.GetValue(garbageAfter), Garbage = r.GetValue(garbage),
                FloodAfter = r.GetValue(floodAfter),
                FloodCount = r.GetValue(floodCount) ?? scriptDefaults.FloodCount, FloodSize = r.GetValue(floodSize) ?? scriptDefaults.FloodSize,
            };
            using ILoggerFactory loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; }));
            // SIGTERM (kill, systemd, a test harness) stops the remote like Ctrl+C: unmapped, sockets closed, exit 0.
            using var term = CancellationTokenSource.CreateLinkedTokenSource(ct);
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; term.Cancel(); });
            return Task.FromResult(SimulatedRemoteProcess.Run(BoardFiles.Resolve(r.GetValue(remoteBoard)!), r.GetValue(handoff), loggers, term.Token, script));
        });
        root.Subcommands.Add(remoteSim);

        var etBoard = new Option<string>("--board", "-b") { Description = "Board file, or a name under boards/", DefaultValueFactory = _ => "sim" };
        var etRemote = new Option<RemoteKind?>("--remote") { Description = "Where the remote runs (default: the board's)", HelpName = "simulated|simulated-process|external" };
        etRemote.CustomParser = r => ParseEnum<RemoteKind>(r.Tokens[0].Value, "--remote", r);
        var etChannel = new Option<string?>("--channel") { Description = "Name of the echo channel the remote announces (default: the board's remote.echoService)" };
        var etCount = new Option<int>("--count", "-n") { Description = "Messages to send", DefaultValueFactory = _ => 496 };
        var etShutdown = new Option<bool>("--shutdown") { Description = "End with OpenAMP's shutdown message (stops OpenAMP's rpmsg-echo)" };
        var echoTest = new Command("echo-test", "Play the host on a board and check an echo channel with every message size") { etBoard, etRemote, etChannel, etCount, etShutdown };
        echoTest.SetAction(r =>
        {
            if (r.GetValue(etCount) < 1) { Console.Error.WriteLine("ampcan: --count must be at least 1"); return 1; }
            using ILoggerFactory loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; }).SetMinimumLevel(LogLevel.Warning));
            return EchoTest.Run(BoardFiles.Resolve(r.GetValue(etBoard)!), r.GetValue(etRemote), r.GetValue(etChannel), r.GetValue(etCount), r.GetValue(etShutdown), loggers, Console.Out);
        });
        root.Subcommands.Add(echoTest);

        var socket = new Option<string>("--socket") { Description = "UNIX socket to receive the memfd and doorbells from", Required = true };
        var peer = new Command("vring-peer", "Serve one virtqueue as an echo or sink device in this process (used by tests and benchmarks)") { socket };
        peer.Hidden = true;
        peer.SetAction(r => VringPeer.Run(r.GetValue(socket)!));
        root.Subcommands.Add(peer);
        return root;
    }

    private static T? ParseEnum<T>(string text, string option, System.CommandLine.Parsing.ArgumentResult r) where T : struct, Enum
    {
        string norm = text.Replace("-", "", StringComparison.Ordinal);
        if (Enum.TryParse(norm, ignoreCase: true, out T v) && !int.TryParse(text, out _)) return v;
        r.AddError($"{option}: '{text}' is not one of {string.Join(", ", Enum.GetNames<T>().Select(Kebab))}");
        return null;
    }

    private static string Kebab(string s) => string.Concat(s.Select((c, i) => char.IsUpper(c) && i > 0 ? "-" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));

    private static async Task<int> RunService(string board, RemoteKind? remote, NotificationMode? mode, CancellationToken ct)
    {
        BoardFiles.Resolve(board); // a wrong board is a usage error, reported before the host starts
        HostApplicationBuilder builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; });
        builder.Services.Configure<AmpCanOptions>(builder.Configuration.GetSection("AmpCan"));
        builder.Services.PostConfigure<AmpCanOptions>(o =>
        {
            o.Board = board;
            if (remote is not null) o.Remote = remote;
            if (mode is not null) o.Mode = mode;
        });
        builder.Services.AddSingleton<BoardService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<BoardService>());
        using IHost host = builder.Build();
        await host.RunAsync(ct).ConfigureAwait(false);
        return Environment.ExitCode;
    }
}

using System.CommandLine;
using AmpCan.Host.Service;
using AmpCan.Simulation;
using Microsoft.Extensions.Logging;

namespace AmpCan.Host.Commands;

/// <summary><c>ampcan remote-sim</c>: the simulated remote core in a process of its own.</summary>
internal static class RemoteSimCommand
{
    /// <summary>The longest scripted reply latency: a minute (anything longer is a hung remote; use --silent-after).</summary>
    public const double MaxLatencyMs = 60_000;

    public static Command Create()
    {
        Option<string?> board = CommonOptions.Board();
        var handoff = new Option<string?>("--handoff") { Description = "UNIX socket on which the host hands over the memfd and doorbell" };
        var latency = new Option<double>("--reply-latency-ms") { Description = $"Delay before each reply, in milliseconds (0 to {MaxLatencyMs})" };
        var silentAfter = new Option<int?>("--silent-after") { Description = "Stop answering after this many messages" };
        var crashAfter = new Option<int?>("--crash-after") { Description = "Crash (the core's loop stops dead) on the message after this many" };
        var garbageAfter = new Option<int?>("--garbage-after") { Description = "Write garbage instead of answering the message after this many" };
        var garbage = new Option<GarbageKind>("--garbage") { Description = "What --garbage-after writes", DefaultValueFactory = _ => GarbageKind.UsedRing, HelpName = "used-ring|oversized-header|name-service" };
        garbage.CustomParser = r => CommonOptions.ParseEnum<GarbageKind>(r.Tokens[0].Value, "--garbage", r) ?? default;
        var floodAfter = new Option<int?>("--flood-after") { Description = "Answer the message after this many with a flood to its sender" };
        var defaults = new SimulatedRemoteScript();
        var floodCount = new Option<int?>("--flood-count") { Description = $"Messages in the flood (default {defaults.FloodCount})" };
        var floodSize = new Option<int?>("--flood-size") { Description = $"Payload bytes per flood message (default {defaults.FloodSize})" };
        var command = new Command("remote-sim", "Run the simulated remote core in this process (for memfd boards the host starts it with --handoff)")
            { board, handoff, latency, silentAfter, crashAfter, garbageAfter, garbage, floodAfter, floodCount, floodSize };
        command.Validators.Add(r =>
        {
            double ms = r.GetValue(latency);
            if (!double.IsFinite(ms) || ms < 0 || ms > MaxLatencyMs) r.AddError($"--reply-latency-ms: {ms} must be 0 to {MaxLatencyMs}");
            foreach (var o in new[] { silentAfter, crashAfter, garbageAfter, floodAfter })
                if (r.GetValue(o) < 0) r.AddError($"{o.Name} must not be negative");
            if (r.GetValue(floodCount) < 1) r.AddError("--flood-count must be at least 1");
            if (r.GetValue(floodSize) is < 4 or > 65535) r.AddError("--flood-size must be between 4 and 65535 bytes");
        });
        command.SetAction((r, ct) =>
        {
            var script = defaults with
            {
                ReplyLatency = TimeSpan.FromMilliseconds(r.GetValue(latency)),
                SilentAfter = r.GetValue(silentAfter), CrashAfter = r.GetValue(crashAfter),
                GarbageAfter = r.GetValue(garbageAfter), Garbage = r.GetValue(garbage),
                FloodAfter = r.GetValue(floodAfter),
                FloodCount = r.GetValue(floodCount) ?? defaults.FloodCount, FloodSize = r.GetValue(floodSize) ?? defaults.FloodSize,
            };
            string path = BoardFiles.Resolve(AmpCanConfiguration.Resolve(AmpCanConfiguration.Load(), r.GetValue(board), null, null).Board);
            using ILoggerFactory loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; }));
            // SIGTERM (kill, systemd, a test harness) stops the remote like Ctrl+C: unmapped, files removed, exit 0.
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct, ProcessTermination.Token);
            return Task.FromResult(SimulatedRemoteProcess.Run(path, r.GetValue(handoff), loggers, stop.Token, script));
        });
        return command;
    }
}

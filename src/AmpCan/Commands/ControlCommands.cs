using System.CommandLine;
using System.Globalization;
using AmpCan.Host.Control;
using AmpCan.SharedMem.Diagnostics;

namespace AmpCan.Host.Commands;

/// <summary>
/// <c>ampcan status|start|stop|recover|attach|detach [--core NAME] [--socket PATH] [--json]</c>: one request to the
/// running service over its control socket. Exit code 0 when it was done, 1 when the service refused it (the error
/// says why), 2 when the service cannot be reached.
/// </summary>
internal static class ControlCommands
{
    /// <summary>Exit code when the service answered with an error.</summary>
    public const int Refused = 1;
    /// <summary>Exit code when the service could not be reached.</summary>
    public const int Unreachable = 2;

    private static readonly Dictionary<string, string> Descriptions = new(StringComparer.Ordinal)
    {
        ["status"] = "Show each remote core of the running service: state (as Linux names it), crashes, the last crash, the last recovery time, its channels",
        ["start"] = "Boot a remote core that is offline (or serve again one that was detached)",
        ["stop"] = "Tear down a remote core's channels and stop it; it stays offline until started",
        ["recover"] = "Recover a remote core once now, as writing 'recover' to Linux's remoteproc recovery does (a crashed core with recovery disabled, or a running one)",
        ["crash"] = "Report a remote core crashed, as writing to Linux's remoteproc debugfs 'crash' does: its channels and files go, and recovery follows its policy",
        ["attach"] = "Serve a remote core someone else started, without restarting it",
        ["detach"] = "Stop serving a remote core and leave it running",
    };

    /// <summary>The commands, one per control request.</summary>
    public static IEnumerable<Command> Create() => ControlProtocol.Commands.Select(Create);

    private static Command Create(string name)
    {
        var core = new Option<string?>("--core") { Description = name == "status" ? "Only this core (default: every core)" : "The core, by its name in the board file (default: the board's only core)" };
        var socket = new Option<string?>("--socket") { Description = $"The service's control socket (default: configuration {ControlSocketSettings.PathKey}, else $RUNTIME_DIRECTORY, /run/ampcan or $XDG_RUNTIME_DIR /{ControlSocketSettings.FileName}, the first that exists)" };
        var json = new Option<bool>("--json") { Description = "Print the service's response, one line of JSON, instead of text" };
        var command = new Command(name, Descriptions[name]) { core, socket, json };
        command.SetAction(async (r, ct) =>
        {
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct, ProcessTermination.Token);
            return await Run(name, r.GetValue(core), r.GetValue(socket), r.GetValue(json), Console.Out, Console.Error, stop.Token);
        });
        return command;
    }

    /// <summary>Sends the request and prints the outcome; returns the exit code.</summary>
    public static async Task<int> Run(string command, string? core, string? socket, bool json, TextWriter output, TextWriter error, CancellationToken cancellation)
    {
        string path;
        try { path = ControlSocketSettings.ForClient(socket, AmpCanConfiguration.Load()); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            error.WriteLine($"ampcan: reading the configuration: {e.Message}");
            return Refused;
        }
        string line;
        ControlResponse response;
        try { (line, response) = await ControlClient.SendAsync(path, new ControlRequest(command, core), cancellation); }
        catch (ControlUnreachableException e)
        {
            error.WriteLine($"ampcan: {e.Message}");
            return Unreachable;
        }
        if (json) output.WriteLine(line);
        else if (response.Ok) Print(command, response.Cores ?? [], output);
        if (response.Ok) return 0;
        if (!json) error.WriteLine($"ampcan: {response.Error}");
        return Refused;
    }

    private static void Print(string command, IReadOnlyList<CoreStatus> cores, TextWriter output)
    {
        if (command != "status")
        {
            foreach (CoreStatus c in cores) output.WriteLine($"remote {Safe(c.Name)}: {c.State}");
            return;
        }
        if (cores.Count == 0)
        {
            output.WriteLine("no remote cores yet (the board is starting)");
            return;
        }
        int width = Math.Max("CORE".Length, cores.Max(c => Safe(c.Name).Length));
        output.WriteLine($"{"CORE".PadRight(width)}  {"STATE",-8}  {"CRASHES",7}  {"RECOVERED IN",12}  CHANNELS");
        foreach (CoreStatus c in cores)
        {
            string recovered = c.LastRecoveryMs is double ms ? ms.ToString("0", CultureInfo.InvariantCulture) + " ms" : "-";
            string channels = c.Channels.Count == 0 ? "-" : string.Join(", ", c.Channels.Select(Safe));
            output.WriteLine($"{Safe(c.Name).PadRight(width)}  {c.State,-8}  {c.Crashes,7}  {recovered,12}  {channels}");
            if (c.LastCrash is string crash) output.WriteLine($"{"".PadRight(width)}  last crash: {PeerText.Escape(crash, 200)}");
        }
    }

    // Names come from board files and, for channels, from the remote: a terminal gets them escaped.
    private static string Safe(string text) => PeerText.Escape(text, 128);
}

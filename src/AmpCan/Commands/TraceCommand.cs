using System.CommandLine;
using AmpCan.Host.Service;
using AmpCan.Remoteproc.Boards;
using AmpCan.Remoteproc.Trace;
using Microsoft.Extensions.Configuration;

namespace AmpCan.Host.Commands;

/// <summary>
/// <c>ampcan trace</c>: prints what a core's firmware wrote into its trace buffers, from the files the service keeps
/// (<see cref="TraceLog"/>: <c>&lt;directory&gt;/&lt;core&gt;-&lt;trace&gt;.log</c>, the older half in <c>.log.1</c>), and
/// with <c>--follow</c> goes on printing lines as they are written, across rotations, until Ctrl+C or SIGTERM.
/// </summary>
internal static class TraceCommand
{
    /// <summary>The configuration key (under <c>AmpCan</c>) for the directory the trace files are in.</summary>
    public const string DirectoryKey = "TraceDirectory";

    /// <summary>How often --follow looks for new lines.</summary>
    public static readonly TimeSpan FollowInterval = TimeSpan.FromMilliseconds(200);

    public static Command Create()
    {
        Option<string?> board = CommonOptions.Board();
        var core = new Option<string?>("--core") { Description = "A core of a multi-core board, by its name in the board file (default: every core of the board)" };
        var follow = new Option<bool>("--follow", "-f") { Description = "Keep printing new lines as the service writes them (like tail -F) until Ctrl+C" };
        var directory = new Option<string?>("--directory") { Description = $"Where the trace files are; default: configuration AmpCan:{DirectoryKey}, else the working directory (where the service writes them)" };
        var command = new Command("trace", "Print the remote core's trace buffers (RSC_TRACE) as the service records them in <core>-<trace>.log")
            { board, core, follow, directory };
        command.SetAction(async (r, ct) =>
        {
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct, ProcessTermination.Token);
            return await Run(r.GetValue(board), r.GetValue(core), r.GetValue(follow), r.GetValue(directory), Console.Out, Console.Error, FollowInterval, stop.Token);
        });
        return command;
    }

    /// <summary>Runs the command; errors are one line on <paramref name="error"/> and exit code 1. Cancellation ends --follow with 0.</summary>
    public static async Task<int> Run(string? board, string? core, bool follow, string? directory, TextWriter output, TextWriter error, TimeSpan interval,
        CancellationToken cancellation)
    {
        IReadOnlyList<string> cores;
        string folder;
        try
        {
            IConfiguration configuration = AmpCanConfiguration.Load();
            folder = Path.GetFullPath(directory ?? NonEmpty(configuration.GetSection("AmpCan")[DirectoryKey]) ?? Directory.GetCurrentDirectory());
            string path = BoardFiles.Resolve(board ?? NonEmpty(configuration.GetSection("AmpCan")["Board"]) ?? "sim");
            cores = Cores(BoardFile.Load(path), core, path);
        }
        catch (Exception e) when (e is BoardException or ConfigurationValueException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            error.WriteLine($"ampcan: {e.Message}");
            return 1;
        }

        var readers = new Dictionary<string, TraceFileReader>(StringComparer.Ordinal);
        var printer = new Printer(output);
        try
        {
            AddNewFiles(readers, folder, cores);
            if (readers.Count == 0)
            {
                string where = string.Join(", ", cores.Select(c => Path.Combine(folder, TraceFileNames.Pattern(c))));
                string missing = Directory.Exists(folder) ? "" : " (the directory does not exist)";
                error.WriteLine($"ampcan: no trace file at {where}{missing}: the service writes <core>-<trace name>.log there while it serves a remote whose resource table has a trace entry");
                return 1;
            }
            foreach (TraceFileReader reader in readers.Values) printer.Print(reader, readers.Count > 1);
            output.Flush();
            if (!follow) return 0;
            while (true)
            {
                await Task.Delay(interval, cancellation);
                AddNewFiles(readers, folder, cores); // a trace the firmware of a later run declared
                foreach (TraceFileReader reader in readers.Values) printer.Print(reader, readers.Count > 1);
                output.Flush();
            }
        }
        catch (OperationCanceledException)
        {
            output.Flush();
            return 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"ampcan: cannot read the trace files in {folder}: {e.Message}");
            return 1;
        }
    }

    private static string? NonEmpty(string? s) => string.IsNullOrWhiteSpace(s) ? null : s;

    // The names the service gives the cores (BoardDescriptor.Name): the board's for a one-core file, "board/core" otherwise.
    private static IReadOnlyList<string> Cores(BoardFile file, string? core, string path)
    {
        if (core is null) return [.. file.Cores.Select(c => c.Name)];
        foreach (BoardDescriptor c in file.Cores)
            if (c.Name == core || c.Name == $"{file.Name}/{core}") return [c.Name];
        string names = string.Join(", ", file.Cores.Select(c => c.Name.StartsWith(file.Name + "/", StringComparison.Ordinal) ? c.Name[(file.Name.Length + 1)..] : c.Name));
        throw new BoardException($"board file '{path}' has no core '{core}' (its cores: {names})");
    }

    private static void AddNewFiles(Dictionary<string, TraceFileReader> readers, string folder, IReadOnlyList<string> cores)
    {
        if (!Directory.Exists(folder)) return;
        foreach (string core in cores)
            foreach (string file in Directory.EnumerateFiles(folder, TraceFileNames.Pattern(core)).Order(StringComparer.Ordinal))
                if (file.EndsWith(TraceFileNames.Extension, StringComparison.Ordinal) && !readers.ContainsKey(file))
                    readers.Add(file, new TraceFileReader(file));
    }

    /// <summary>Prints new lines, naming the file (as tail does, "==> path &lt;==") whenever they come from another file than the last.</summary>
    private sealed class Printer(TextWriter output)
    {
        private readonly List<string> _lines = [];
        private string? _last;

        public void Print(TraceFileReader reader, bool name)
        {
            _lines.Clear();
            if (reader.ReadNew(_lines) == 0) return;
            if (name && _last != reader.Path)
            {
                if (_last is not null) output.WriteLine();
                output.WriteLine($"==> {reader.Path} <==");
            }
            _last = reader.Path;
            foreach (string line in _lines) output.WriteLine(line);
        }
    }
}

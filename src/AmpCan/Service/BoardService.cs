using AmpCan.Host.Boards;
using AmpCan.Remoteproc.Boards;
using AmpCan.Remoteproc.Lifecycle;
using AmpCan.SharedMem.Ordering;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AmpCan.Host.Service;

/// <summary>Configuration of the service (section "AmpCan"; the command line's values win when given).</summary>
public sealed class AmpCanOptions
{
    /// <summary>Board file or name under boards/ (default "sim").</summary>
    public string Board { get; set; } = "sim";
    /// <summary>Where the remote runs, overriding the board (simulated, simulated-process, external).</summary>
    public RemoteKind? Remote { get; set; }
    /// <summary>Overrides the board's notification mode.</summary>
    public AmpCan.SharedMem.Doorbells.NotificationMode? Mode { get; set; }
    /// <summary>Where each remote's trace buffers are written as text files (<c>ampcan trace</c> reads them); default: the working directory.</summary>
    public string TraceDirectory { get; set; } = ".";
    /// <summary>
    /// Where each core's attach record is kept, so that a service restarted under a remote that runs on its own takes it
    /// over where it stood; default: systemd's <c>$RUNTIME_DIRECTORY</c>, else the working directory.
    /// </summary>
    public string? StateDirectory { get; set; }
}

/// <summary>
/// Runs one board: brings up shared memory, doorbell, remote and the rpmsg bus, logs channels, runs the sample driver,
/// and keeps the remote served through crashes (<see cref="RemoteCoreLifecycle"/>: seen, torn down, booted again).
/// A failure to start is one critical line and a non-zero <see cref="ExitCode"/> (a supervisor's Restart=on-failure
/// restarts it); Ctrl+C while it waits for the remote is a clean stop.
/// </summary>
public sealed class BoardService(IOptions<AmpCanOptions> options, ILoggerFactory loggers, IHostApplicationLifetime lifetime, AmpCan.RpmsgChar.RpmsgCharDevices? rpmsgChar = null) : BackgroundService
{
    private readonly ILogger _logger = loggers.CreateLogger<BoardService>();
    private readonly List<RemoteCoreLifecycle> _cores = [];

    /// <summary>Each remote core's lifecycle (after start), in the board file's order: its state, crashes and recovery.</summary>
    public IReadOnlyList<RemoteCoreLifecycle> Cores => _cores;

    /// <summary>The first core's lifecycle (after start).</summary>
    public RemoteCoreLifecycle? Core => _cores.FirstOrDefault();

    /// <summary>The first core's running board (a new one after each recovery), or null while that remote is down.</summary>
    public BoardHost? Board => (Core?.Session as BoardSession)?.Host;

    /// <summary>0 after a clean run or stop; 1 when the board could not start.</summary>
    public int ExitCode { get; private set; }

    /// <inheritdoc/>
    /// <remarks>
    /// Since .NET 10 the host runs all of this on a background task, so start-up may wait for the remote and Ctrl+C
    /// still reaches it. A board with several cores runs one lifecycle per core: each has its own memory, doorbell,
    /// loop and sessions, so one crashing costs nothing on another.
    /// </remarks>
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        BoardFile file;
        try
        {
            string path = BoardFiles.Resolve(options.Value.Board);
            file = BoardFile.Load(path);
            foreach (BoardDescriptor core in file.Cores) core.CheckServed(path);
            _logger.LogInformation("board {Board} ({Description}) from {Path}, {Count} remote core(s)", file.Name, file.Description, path, file.Cores.Count);
            // A remote core's windows depend on these (docs/barriers.md); without them only same-cluster ordering holds.
            if (SystemBarriers.Available) _logger.LogInformation("system barriers for remote cores: {Barriers}", SystemBarriers.Description);
            else _logger.LogWarning("system barriers for remote cores: {Barriers}", SystemBarriers.Description);
            var host = new BoardHostOptions
            {
                BoardPath = path,
                AmpcanPath = AmpcanExecutable(),
                Remote = options.Value.Remote,
                Mode = options.Value.Mode,
                Loggers = loggers,
                StateDirectory = options.Value.StateDirectory ?? SystemdRuntimeDirectory.From(Environment.GetEnvironmentVariable) ?? ".",
                BindRpmsg = BindDrivers,
            };
            foreach (BoardDescriptor core in file.Cores)
            {
                RemoteCoreLifecycle lifecycle = BoardLifecycle.Create(core, host, new BoardSessionOptions { TraceDirectory = options.Value.TraceDirectory });
                _cores.Add(lifecycle);
                // A remote that runs on its own is attached to, as Linux's remoteproc does with a core it finds running:
                // one nobody drives yet is brought up, one an earlier service left is taken over where it stands.
                if ((options.Value.Remote ?? core.Remote.Kind) == RemoteKind.External) lifecycle.Attach(stoppingToken);
                else lifecycle.Start(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            _logger.LogInformation("stopped before the board was up");
            return Task.CompletedTask;
        }
        catch (Exception e)
        {
            // One line, no stack trace: the message names what is wrong (board file, remote, resource table, ...).
            _logger.LogCritical("cannot start board {Board}: {Reason}", options.Value.Board, e.Message);
            ExitCode = 1;
            lifetime.StopApplication();
            return Task.CompletedTask;
        }
        _logger.LogInformation("AmpCan is serving board {Board}; Ctrl+C stops", file.Name);
        return Task.Delay(Timeout.Infinite, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    // Bound before the bus receives anything: on a take-over, what the remote sent meanwhile reaches them. Channels
    // coming and going are logged by the bus's name service, rate-limited (a peer decides how many); the remote leaving
    // or the device failing is the session's crash watch's to report.
    private void BindDrivers(AmpCan.Rpmsg.VirtioRpmsgHost rpmsg)
    {
        new RpmsgClientSample(rpmsg, loggers.CreateLogger("rpmsg_client_sample")).Register();
        rpmsgChar?.Bind(rpmsg); // rpmsg_ctrlN, and rpmsgN for the remote's rpmsg-raw channels
    }

    /// <inheritdoc/>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        foreach (RemoteCoreLifecycle core in Enumerable.Reverse(_cores))
        {
            // A remote that runs on its own is left running, as Linux detaches from a core it attached to; the next
            // service takes it over from the attach record instead of resetting it.
            if (core.State is RemoteCoreState.Running or RemoteCoreState.Attached && core.Session?.CannotDetach is null)
            {
                try { core.Detach(); }
                catch (Exception e) { _logger.LogWarning("could not detach: {Reason}", e.Message); }
            }
            core.Dispose();
        }
    }

    /// <summary>The path to start this program again (for the remote process).</summary>
    /// <remarks>ampcan.dll where there is one (run through dotnet); a Native AOT build has no assembly file, only itself.</remarks>
    public static string AmpcanExecutable() =>
        Path.Combine(AppContext.BaseDirectory, "ampcan.dll") is var dll && File.Exists(dll) ? dll : Environment.ProcessPath!;
}

/// <summary>Finds board files: a path, or a name under boards/ in the working directory or next to the program.</summary>
public static class BoardFiles
{
    /// <summary>Resolves <paramref name="board"/> to an existing file or throws an error listing where it looked.</summary>
    public static string Resolve(string board)
    {
        var tried = new List<string>();
        foreach (string candidate in Candidates(board))
        {
            tried.Add(candidate);
            if (File.Exists(candidate)) return Path.GetFullPath(candidate);
        }
        throw new BoardException($"board '{board}' not found (looked at {string.Join(", ", tried)})");
    }

    private static IEnumerable<string> Candidates(string board)
    {
        yield return board;
        string file = board.EndsWith(".json", StringComparison.Ordinal) ? board : board + ".json";
        yield return Path.Combine("boards", file);
        yield return Path.Combine(AppContext.BaseDirectory, "boards", file);
    }
}

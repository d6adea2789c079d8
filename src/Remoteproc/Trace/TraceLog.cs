using System.Globalization;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Diagnostics;
using Microsoft.Extensions.Logging;

namespace AmpCan.Remoteproc.Trace;

/// <summary>
/// Surfaces a remote core's trace buffers while one run of it is served: every <see cref="TraceLogOptions.PollInterval"/>
/// each buffer is read (<see cref="TraceFollower"/>), and each new line is appended to
/// <c>&lt;directory&gt;/&lt;core&gt;-&lt;trace&gt;.log</c> (<see cref="TraceFile"/>, rotated to <c>.1</c>; what
/// <c>ampcan trace</c> prints) and logged under the category <see cref="Category"/>, at most
/// <see cref="TraceLogOptions.LogBurst"/> lines per interval and trace (the file gets every line).
/// </summary>
/// <remarks>
/// Nothing here throws once constructed: a buffer that cannot be read or a file that cannot be written is a
/// rate-limited warning, and the timer's thread never sees an exception. Dispose it before the core's memory is
/// released; it reads each buffer once more (the remote's last words before a crash), but not one whose mapping is
/// already disposed (that memory is private zeroes by then).
/// </remarks>
public sealed class TraceLog : IDisposable
{
    /// <summary>The logging category of trace lines.</summary>
    public const string Category = "AmpCan.Remote.Trace";

    private const string StampFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";
    private readonly Followed[] _traces;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ITimer? _timer;
    private readonly Lock _gate = new();
    private bool _disposed;

    /// <summary>Starts following <paramref name="buffers"/>, the trace buffers of core <paramref name="core"/>.</summary>
    /// <param name="core">The core's name (a board's name; "board/core" for a core of a multi-core board): the files' prefix.</param>
    /// <param name="buffers">The buffers; two whose names make the same file name are told apart by their index.</param>
    /// <param name="options">Directory, interval, limits and clock.</param>
    /// <param name="loggers">Where <see cref="Category"/> lines go.</param>
    public TraceLog(string core, IEnumerable<TraceBuffer> buffers, TraceLogOptions options, ILoggerFactory loggers)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(core);
        ArgumentNullException.ThrowIfNull(buffers);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggers);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.Directory);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.PollInterval, TimeSpan.Zero);
        Core = core;
        _logger = loggers.CreateLogger(Category);
        _time = options.Time;
        var names = new HashSet<string>(StringComparer.Ordinal);
        var traces = new List<Followed>();
        foreach (TraceBuffer buffer in buffers)
        {
            string name = RemoteFileNames.Safe(buffer.Name);
            string shown = PeerText.Escape(buffer.Name);
            if (name.Length == 0) name = shown = $"trace{buffer.Index}"; // Linux's debugfs name for it
            for (int k = 0; !names.Add(name); k++) name = k == 0 ? $"{name}-{buffer.Index}" : $"{name}-{k}"; // two entries, one name
            string path = TraceFileNames.PathFor(options.Directory, core, name);
            var file = new TraceFile(path, options.MaxFileBytes, $"core {RemoteFileNames.Safe(core)}, trace \"{shown}\"", _time);
            traces.Add(new Followed(new TraceFollower(buffer, options.MaxLineBytes), file, shown,
                new RateLimitedLog(options.LogBurst, options.LogInterval), new RateLimitedLog(1, TimeSpan.FromMinutes(1))));
        }
        _traces = [.. traces];
        foreach (Followed t in _traces)
        {
            TraceBuffer b = t.Follower.Buffer;
            _logger.LogInformation("{Core}: trace \"{Trace}\" ({Length} bytes at 0x{Address:x}) is followed into {Path}", Core, t.Shown, b.Length, b.DeviceAddress, t.File.Path);
            Mark(t, $"following trace \"{t.Shown}\" of {Core}: {b.Length} bytes at 0x{b.DeviceAddress:x}");
            Flush(t);
        }
        if (_traces.Length > 0) _timer = _time.CreateTimer(_ => Tick(), null, options.PollInterval, options.PollInterval);
    }

    /// <summary>
    /// Follows the trace entries of a core's resource table: each is mapped through <paramref name="memory"/>, and one
    /// that cannot be (outside the map, empty, too long) is a warning naming it and is left out; the rest go on.
    /// </summary>
    public static TraceLog Start(string core, IReadOnlyList<TraceResource> traces, MemoryMap memory, TraceLogOptions options, ILoggerFactory loggers)
    {
        ArgumentNullException.ThrowIfNull(traces);
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(loggers);
        var buffers = new List<TraceBuffer>(traces.Count);
        for (int i = 0; i < traces.Count; i++)
        {
            try { buffers.Add(TraceBuffer.Map(memory, traces[i], i)); }
            catch (ResourceTableException e)
            {
                loggers.CreateLogger(Category).LogWarning("{Core}: {Problem}; that trace is not followed", core, e.Message);
            }
        }
        return new TraceLog(core, buffers, options, loggers);
    }

    /// <summary>The core's name.</summary>
    public string Core { get; }

    /// <summary>The files written, one per trace followed.</summary>
    public IReadOnlyList<string> Files => [.. _traces.Select(t => t.File.Path)];

    /// <summary>Lines written to the files so far (restart marks included).</summary>
    public long LinesWritten => Interlocked.Read(ref _linesWritten);
    private long _linesWritten;

    /// <summary>Reads every buffer now (as a tick does) and writes what is new; waits for a tick in progress. Never throws.</summary>
    public void Poll()
    {
        lock (_gate)
        {
            if (!_disposed) PollAll();
        }
    }

    /// <summary>Stops the timer, reads each buffer a last time (unless its memory is already released) and closes the files.</summary>
    public void Dispose()
    {
        _timer?.Dispose();
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            PollAll();
            foreach (Followed t in _traces)
            {
                if (t.Lines.TotalSuppressed > 0)
                    Safely(() => _logger.LogInformation("{Core} {Trace}: {Count} trace lines were not logged (rate limit); every line is in {Path}",
                        Core, t.Shown, t.Lines.TotalSuppressed, t.File.Path));
                t.File.Dispose();
            }
        }
    }

    private void Tick()
    {
        // Ticks do not overlap: one that finds another (or Dispose) running skips rather than queues.
        if (!_gate.TryEnter()) return;
        try
        {
            if (!_disposed) PollAll();
        }
        finally { _gate.Exit(); }
    }

    private void PollAll()
    {
        foreach (Followed t in _traces)
        {
            try { PollOne(t); }
            catch (Exception e)
            {
                // A defect of ours or a logger's: one warning a minute, and the next tick tries again.
                Safely(() =>
                {
                    if (t.Failures.ShouldLog(out long more))
                        _logger.LogWarning("{Core} {Trace}: reading the trace failed: {Error}{More}", Core, t.Shown, e.Message, RateLimitedLog.Note(more));
                });
            }
        }
    }

    private void PollOne(Followed t)
    {
        if (t.Follower.Buffer.Region.Mapping.IsDisposed) return; // released: private zeroes, not what the remote wrote
        IReadOnlyList<TraceLine> lines = t.Follower.Poll();
        if (lines.Count == 0) return;
        foreach (TraceLine line in lines)
        {
            switch (line.Kind)
            {
                case TraceLineKind.Restart:
                    Mark(t, "the remote started its trace over");
                    Log(t, "the remote started its trace over (it rebooted, cleared the buffer, or wrote more than it holds between two reads)");
                    break;
                case TraceLineKind.Cut:
                    Write(t, line.Text + "…");
                    Log(t, line.Text + "…");
                    break;
                default:
                    Write(t, line.Text);
                    Log(t, line.Text);
                    break;
            }
        }
        Flush(t);
    }

    private void Log(Followed t, string text)
    {
        if (t.Lines.ShouldLog(out long suppressed))
            _logger.LogInformation("{Core} {Trace}: {Line}{Suppressed}", Core, t.Shown, text, RateLimitedLog.Note(suppressed));
    }

    private void Mark(Followed t, string what)
    {
        string stamp = _time.GetUtcNow().UtcDateTime.ToString(StampFormat, CultureInfo.InvariantCulture);
        Write(t, $"--- {stamp} {what} ---");
    }

    private void Write(Followed t, string text)
    {
        if (t.FileFailedThisPass) return;
        try
        {
            t.File.WriteLine(text);
            Interlocked.Increment(ref _linesWritten);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            FileFailed(t, e);
        }
    }

    private void Flush(Followed t)
    {
        try
        {
            if (!t.FileFailedThisPass) t.File.Flush();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            FileFailed(t, e);
        }
        t.FileFailedThisPass = false;
    }

    private void FileFailed(Followed t, Exception e)
    {
        // The rest of this pass skips the file (one failure per pass, not per line); the next pass opens it again.
        t.FileFailedThisPass = true;
        if (t.Failures.ShouldLog(out long more))
            _logger.LogWarning("{Core} {Trace}: cannot write {Path}: {Error}; its lines are logged only{More}", Core, t.Shown, t.File.Path, e.Message, RateLimitedLog.Note(more));
    }

    private static void Safely(Action action)
    {
        try { action(); }
        catch (Exception) { } // a logger that throws must not take the timer's thread down
    }

    private sealed class Followed(TraceFollower follower, TraceFile file, string shown, RateLimitedLog lines, RateLimitedLog failures)
    {
        public TraceFollower Follower { get; } = follower;
        public TraceFile File { get; } = file;
        public string Shown { get; } = shown;
        public RateLimitedLog Lines { get; } = lines;
        public RateLimitedLog Failures { get; } = failures;
        public bool FileFailedThisPass { get; set; }
    }
}

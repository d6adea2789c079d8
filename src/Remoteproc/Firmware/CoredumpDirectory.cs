using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;

namespace AmpCan.Remoteproc.Firmware;

/// <summary>
/// Writes coredumps as <c>&lt;name&gt;-&lt;UTC timestamp&gt;.core</c> into one directory and keeps at most a given number
/// there, deleting the oldest of its own (files named as it names them; nothing else is touched), so a remote that
/// crashes in a loop cannot fill the disk. It runs on the crash path: a disk error is a result and a log line, never
/// an exception into the caller.
/// </summary>
public sealed partial class CoredumpDirectory
{
    private const string TimestampFormat = "yyyyMMdd'T'HHmmss'.'fffffff'Z'";
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();

    /// <summary>Creates the writer; the directory is created on the first dump, not here.</summary>
    /// <param name="directory">Where dumps go.</param>
    /// <param name="mode">Disabled writes nothing.</param>
    /// <param name="maxFiles">How many dumps the directory keeps (at least 1).</param>
    /// <param name="logger">Where written, pruned and failed dumps are logged.</param>
    /// <param name="time">The clock the names come from (default: the system's).</param>
    public CoredumpDirectory(string directory, CoredumpMode mode, int maxFiles, ILogger logger, TimeProvider? time = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxFiles, 1);
        ArgumentNullException.ThrowIfNull(logger);
        Directory = Path.GetFullPath(directory);
        Mode = mode;
        MaxFiles = maxFiles;
        _logger = logger;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The directory dumps are written to.</summary>
    public string Directory { get; }

    /// <summary>Whether dumps are written.</summary>
    public CoredumpMode Mode { get; }

    /// <summary>The most dumps kept.</summary>
    public int MaxFiles { get; }

    /// <summary>Writes a dump of <paramref name="segments"/> for remote <paramref name="remoteName"/>, then deletes the oldest beyond <see cref="MaxFiles"/>.</summary>
    public CoredumpResult Write(string remoteName, ushort machine, ulong entry, IReadOnlyList<CoreDumpSegment> segments)
    {
        if (Mode == CoredumpMode.Disabled) return new CoredumpResult(CoredumpOutcome.Disabled, null, null, []);
        string name = SafeName(remoteName);
        lock (_gate)
        {
            string? temp = null;
            try
            {
                System.IO.Directory.CreateDirectory(Directory);
                string stamp = _time.GetUtcNow().UtcDateTime.ToString(TimestampFormat, CultureInfo.InvariantCulture);
                string path = FreePath(name, stamp);
                // Written under a name the pruning never matches and renamed when whole, so a full disk leaves no half dump counted as one.
                temp = Path.Combine(Directory, $".{Path.GetFileName(path)}.partial");
                using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
                {
                    ElfCoreDump.Write(file, machine, entry, segments);
                    file.Flush(flushToDisk: true);
                }
                File.Move(temp, path);
                temp = null;
                _logger.LogWarning("remote {Remote}: coredump written to {Path} ({Bytes} bytes)", remoteName, path, new FileInfo(path).Length);
                return new CoredumpResult(CoredumpOutcome.Written, path, null, Prune());
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                if (temp is not null) TryDelete(temp);
                _logger.LogError("remote {Remote}: coredump to {Directory} failed: {Error}", remoteName, Directory, e.Message);
                return new CoredumpResult(CoredumpOutcome.Failed, null, e.Message, []);
            }
        }
    }

    /// <summary>The dumps this writer would count, oldest first.</summary>
    public IReadOnlyList<string> Dumps()
    {
        try
        {
            return [.. System.IO.Directory.EnumerateFiles(Directory)
                .Select(p => (Path: p, Match: DumpName().Match(Path.GetFileName(p))))
                .Where(x => x.Match.Success)
                .OrderBy(x => x.Match.Groups["stamp"].Value, StringComparer.Ordinal)
                .ThenBy(x => x.Match.Groups["n"].Success ? int.Parse(x.Match.Groups["n"].Value, CultureInfo.InvariantCulture) : 0)
                .ThenBy(x => x.Path, StringComparer.Ordinal)
                .Select(x => x.Path)];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    private List<string> Prune()
    {
        var removed = new List<string>();
        IReadOnlyList<string> dumps = Dumps();
        for (int i = 0; i < dumps.Count - MaxFiles; i++)
        {
            if (!TryDelete(dumps[i])) continue;
            removed.Add(dumps[i]);
            _logger.LogInformation("coredump {Path} deleted: {Directory} keeps the newest {Max}", dumps[i], Directory, MaxFiles);
        }
        return removed;
    }

    private string FreePath(string name, string stamp)
    {
        // Two dumps in one tick (100 ns) get -1, -2, ... so neither overwrites the other.
        for (int n = 0; n < 100; n++)
        {
            string path = Path.Combine(Directory, n == 0 ? $"{name}-{stamp}.core" : $"{name}-{stamp}-{n}.core");
            if (!File.Exists(path)) return path;
        }
        throw new IOException($"100 coredumps of '{name}' already carry the timestamp {stamp}");
    }

    private bool TryDelete(string path)
    {
        try
        {
            File.Delete(path);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _logger.LogWarning("coredump {Path} could not be deleted: {Error}", path, e.Message);
            return false;
        }
    }

    /// <summary>The remote's name made safe for a file name: no separators, no leading dot, not empty.</summary>
    private static string SafeName(string remoteName) => RemoteFileNames.Safe(remoteName ?? "") is { Length: > 0 } s ? s : "remote";

    [GeneratedRegex(@"^[A-Za-z0-9_.\-]+-(?<stamp>\d{8}T\d{6}\.\d{7}Z)(-(?<n>\d{1,2}))?\.core$", RegexOptions.CultureInvariant)]
    private static partial Regex DumpName();
}

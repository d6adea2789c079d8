using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using AmpCan.Remoteproc;
using AmpCan.Rpmsg;
using AmpCan.Vring;
using Microsoft.Extensions.Logging;

namespace AmpCan.Host.Boards;

/// <summary>What one host of a core leaves for the next (format version 1): its rpmsg device's rings and channels.</summary>
/// <param name="Version">Format version.</param>
/// <param name="Board">The core's board name.</param>
/// <param name="Vdev">The rpmsg vdev's index in the resource table.</param>
/// <param name="Rx">Where the receive queue stood at a detach; null otherwise.</param>
/// <param name="Tx">Where the transmit queue stood at a detach; null otherwise.</param>
/// <param name="Channels">The channels the remote had announced, with our endpoints' addresses.</param>
/// <param name="CanStopped">The virtio-can vdevs whose controller was stopped at a detach (others were started); null otherwise.</param>
public sealed record AttachRecord(int Version, string Board, int Vdev, DriverQueueSnapshot? Rx, DriverQueueSnapshot? Tx, IReadOnlyList<RpmsgChannelRecord> Channels,
    IReadOnlyList<int>? CanStopped = null)
{
    /// <summary>The rpmsg part, as the host's driver takes it.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public RpmsgHostResume Rpmsg => new(Rx, Tx, Channels);
}

/// <summary>
/// The attach record of one core in the service's state directory (<c>BOARD.attach.json</c>): written whenever the
/// remote's channels change (so a host that dies leaves them behind) and in full at a detach (where the rings stood),
/// read by the next host that attaches, which then takes the remote over exactly instead of resetting it. A record that
/// is missing, unreadable or another core's is ignored with one line; the rings are checked against it anyway.
/// </summary>
/// <remarks>Channel changes come on the device's loop: their writes are coalesced and done on the thread pool.</remarks>
public sealed class AttachRecordFile : IDisposable
{
    /// <summary>Largest record read (1024 channels fit in a fraction of it).</summary>
    public const int MaxBytes = 1 << 20;
    private const int FormatVersion = 1;
    private static readonly JsonTypeInfo<AttachRecord> Json =
        (JsonTypeInfo<AttachRecord>)new JsonSerializerOptions { WriteIndented = true, TypeInfoResolver = HostJsonContext.Default }.GetTypeInfo(typeof(AttachRecord));

    private readonly string _board;
    private readonly ILogger _logger;
    private readonly Lock _write = new();
    private RpmsgBus? _bus;
    private int _vdev;
    private int _pending;
    private bool _stopped;
    private Task _flush = Task.CompletedTask;

    /// <summary>The record of board <paramref name="board"/>'s core in <paramref name="directory"/> (created when written).</summary>
    public AttachRecordFile(string directory, string board, ILogger logger)
    {
        _board = board;
        _logger = logger;
        Path = System.IO.Path.Combine(directory, RemoteFileNames.Safe(board) + ".attach.json");
    }

    /// <summary>The record's file.</summary>
    public string Path { get; }

    /// <summary>The record for rpmsg vdev <paramref name="vdev"/>, or null (said why in one line) when there is none to trust.</summary>
    public AttachRecord? Read(int vdev)
    {
        AttachRecord? r;
        try
        {
            var info = new FileInfo(Path);
            if (!info.Exists)
            {
                _logger.LogInformation("board {Board}: no attach record at {Path}: the rings are taken over as they stand, channels as the remote announces them", _board, Path);
                return null;
            }
            if (info.Length > MaxBytes) throw new InvalidDataException($"it has {info.Length} bytes, more than {MaxBytes}");
            r = JsonSerializer.Deserialize(File.ReadAllBytes(Path), Json);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or InvalidDataException or NotSupportedException)
        {
            _logger.LogWarning("board {Board}: attach record {Path} ignored: {Reason}", _board, Path, e.Message);
            return null;
        }
        string? wrong = r is null ? "it is empty"
            : r.Version != FormatVersion ? $"format version {r.Version}, not {FormatVersion}"
            : r.Board != _board ? $"it is board '{r.Board}''s"
            : r.Vdev != vdev ? $"it is for vdev {r.Vdev}, the rpmsg vdev is {vdev}"
            : r.Channels is null || r.Channels.Count > RpmsgBus.MaxChannels ? "its channel list is missing or too long"
            : r.Channels.FirstOrDefault(c => c.Name is null || c.Name.Length == 0 || System.Text.Encoding.UTF8.GetByteCount(c.Name) >= Rpmsg.Wire.NameServiceMessage.NameSize) is { } bad
                ? $"a channel name is empty or too long ('{bad.Name}')" : null;
        if (wrong is not null)
        {
            _logger.LogWarning("board {Board}: attach record {Path} ignored: {Reason}", _board, Path, wrong);
            return null;
        }
        return r;
    }

    /// <summary>Writes the record now (a detach), replacing the file atomically; stops <see cref="Track"/>ing first.</summary>
    public void Write(int vdev, RpmsgHostResume resume, IReadOnlyList<int> canStopped)
    {
        StopTracking();
        lock (_write) Save(new AttachRecord(FormatVersion, _board, vdev, resume.Rx, resume.Tx, resume.Channels, canStopped));
    }

    /// <summary>Keeps the record's channels current from <paramref name="bus"/> (rings: none, as they move all the time); writes once now.</summary>
    public void Track(RpmsgBus bus, int vdev)
    {
        _bus = bus;
        _vdev = vdev;
        bus.ChannelCreated += OnChange;
        bus.ChannelRemoved += OnChange;
        OnChange(null!);
    }

    private void OnChange(RpmsgChannel _)
    {
        if (Interlocked.Exchange(ref _pending, 1) != 0) return;
        lock (_write) _flush = _flush.ContinueWith(_ => Flush(), TaskScheduler.Default);
    }

    private void Flush()
    {
        Volatile.Write(ref _pending, 0);
        lock (_write)
        {
            if (_stopped || _bus is not { State: RpmsgDeviceState.Ready } bus) return;
            Save(new AttachRecord(FormatVersion, _board, _vdev, null, null, bus.ChannelRecords()));
        }
    }

    // Never throws: a state directory that cannot be written costs the next attach its record, nothing now.
    private void Save(AttachRecord record)
    {
        string temp = Path + ".tmp";
        try
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
            var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            using (var f = new FileStream(temp, options)) JsonSerializer.Serialize(f, record, Json);
            File.Move(temp, Path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _logger.LogWarning("board {Board}: cannot write the attach record {Path}: {Reason}", _board, Path, e.Message);
        }
    }

    private void StopTracking()
    {
        Task flush;
        lock (_write)
        {
            _stopped = true;
            flush = _flush;
        }
        if (_bus is { } bus)
        {
            bus.ChannelCreated -= OnChange;
            bus.ChannelRemoved -= OnChange;
        }
        flush.Wait();
    }

    /// <summary>Stops tracking and waits for a write in progress.</summary>
    public void Dispose() => StopTracking();
}

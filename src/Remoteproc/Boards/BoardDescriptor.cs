using System.Text.Json;
using System.Text.Json.Serialization;

namespace AmpCan.Remoteproc.Boards;

/// <summary>A board file: the memory map, the resource table's place, the doorbell and the remote core.</summary>
public sealed record BoardDescriptor
{
    /// <summary>Board name.</summary>
    public required string Name { get; init; }
    /// <summary>One line about the board.</summary>
    public string Description { get; init; } = "";
    /// <summary>The shared-memory window.</summary>
    public required SharedMemorySpec SharedMemory { get; init; }
    /// <summary>Where the resource table is.</summary>
    public ResourceTableSpec ResourceTable { get; init; } = new();
    /// <summary>The rpmsg buffer pool.</summary>
    public required RpmsgSpec Rpmsg { get; init; }
    /// <summary>The doorbell.</summary>
    public required DoorbellSpec Doorbell { get; init; }
    /// <summary>The remote core.</summary>
    public RemoteSpec Remote { get; init; } = new();
    /// <summary>How the loop waits.</summary>
    public NotificationSpec Notification { get; init; } = new();

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower, allowIntegerValues: false) },
    };

    /// <summary>The largest board file <see cref="Load"/> reads (1 MiB; the shipped ones are under 1 KiB).</summary>
    public const int MaxFileBytes = 1 << 20;

    /// <summary>Reads and validates a board file (a regular file of at most <see cref="MaxFileBytes"/>); errors name the file and the field.</summary>
    public static BoardDescriptor Load(string path) => Parse(BoardFileReader.ReadText(path, MaxFileBytes), path);

    /// <summary>Parses and validates board JSON; <paramref name="source"/> names it in errors.</summary>
    public static BoardDescriptor Parse(string json, string source)
    {
        BoardDescriptor? b;
        try { b = JsonSerializer.Deserialize<BoardDescriptor>(json, Json); }
        catch (JsonException e)
        {
            throw new BoardException($"board file '{source}': {e.Message.Split(" Path:")[0]} (at {e.Path ?? "$"}, line {e.LineNumber + 1})");
        }
        if (b is null) throw new BoardException($"board file '{source}' is empty");
        b.Validate(source);
        return b;
    }

    private void Validate(string source)
    {
        void Fail(string field, string why) => throw new BoardException($"board file '{source}': {field}: {why}");
        if (string.IsNullOrWhiteSpace(Name)) Fail("name", "must not be empty");
        if (SharedMemory.Size == 0) Fail("sharedMemory.size", "must not be 0");
        if (SharedMemory.Kind == SharedMemoryKind.File && string.IsNullOrEmpty(SharedMemory.Path)) Fail("sharedMemory.path", "is required for kind 'file'");
        if (ResourceTable.Size < 16 || ResourceTable.Offset > SharedMemory.Size || ResourceTable.Size > SharedMemory.Size - ResourceTable.Offset)
            Fail("resourceTable", $"[0x{ResourceTable.Offset:x}, +0x{ResourceTable.Size:x}) is not inside the {SharedMemory.Size:#x}-byte shared memory");
        if (Rpmsg.RxBuffers < 1 || Rpmsg.TxBuffers < 1) Fail("rpmsg", "needs at least one receive and one transmit buffer");
        if (Rpmsg.BufferSize <= 16 || Rpmsg.BufferSize > 16 + ushort.MaxValue) Fail("rpmsg.bufferSize", $"{Rpmsg.BufferSize} must be between 17 and {16 + ushort.MaxValue}");
        ulong pool = (ulong)(Rpmsg.RxBuffers + Rpmsg.TxBuffers) * (ulong)Rpmsg.BufferSize;
        if (Rpmsg.BufferPoolOffset > SharedMemory.Size || pool > SharedMemory.Size - Rpmsg.BufferPoolOffset)
            Fail("rpmsg.bufferPoolOffset", $"a pool of {pool} bytes at 0x{Rpmsg.BufferPoolOffset:x} does not fit in the {SharedMemory.Size:#x}-byte shared memory");
        if (Doorbell.Kind == DoorbellKind.UnixSocket && string.IsNullOrEmpty(Doorbell.Path)) Fail("doorbell.path", "is required for kind 'unix-socket'");
        if (Remote.Kind == RemoteKind.SimulatedProcess && SharedMemory.Kind is SharedMemoryKind.DevMem or SharedMemoryKind.Uio)
            Fail("remote.kind", "a simulated remote needs memfd or file shared memory");
        if (Remote.StartTimeoutSeconds <= 0) Fail("remote.startTimeoutSeconds", "must be positive");
    }
}

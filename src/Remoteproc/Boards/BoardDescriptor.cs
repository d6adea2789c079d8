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
    /// <summary>The CAN controllers shared with the remote (none by default).</summary>
    public CanSpec Can { get; init; } = new();

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        // A key written twice is a mistake whichever copy wins; null where the type has no null would surface later as
        // a NullReferenceException with no field named.
        AllowDuplicateProperties = false,
        RespectNullableAnnotations = true,
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
            throw new BoardException($"board file '{source}': {BoardJsonErrorText.Describe(e)}");
        }
        if (b is null) throw new BoardException($"board file '{source}' is empty");
        b.Validate(source);
        return b;
    }

    /// <summary>Checks the range of every field (done by <see cref="Parse"/>); the error names <paramref name="source"/>, the field and the value.</summary>
    /// <exception cref="BoardException">A field is out of range.</exception>
    public void Validate(string source) => BoardValidator.Validate(this, source);
}

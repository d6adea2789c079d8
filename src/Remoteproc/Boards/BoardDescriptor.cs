using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace AmpCan.Remoteproc.Boards;

/// <summary>
/// One remote core of a board file: the memory map, the resource table's place, the doorbell and the core. A file with
/// several cores (<c>"cores": [...]</c>) is read by <see cref="BoardFile"/>, which gives one of these per core.
/// </summary>
public sealed record BoardDescriptor
{
    /// <summary>Board name; a core of a multi-core file is named "&lt;board&gt;/&lt;core&gt;" by <see cref="BoardFile"/>.</summary>
    public required string Name { get; init; }
    /// <summary>One line about the board.</summary>
    public string Description { get; init; } = "";
    /// <summary>
    /// The shared-memory window: the IPC memory the host's runtime maps (the resource table, the rpmsg pool and the
    /// vrings in it). With <see cref="Regions"/> it must be exactly one of them (the same device address and size).
    /// </summary>
    public required SharedMemorySpec SharedMemory { get; init; }
    /// <summary>Where the resource table is.</summary>
    public ResourceTableSpec ResourceTable { get; init; } = new();
    /// <summary>The rpmsg buffer pool.</summary>
    public required RpmsgSpec Rpmsg { get; init; }
    /// <summary>The doorbell the host's runtime uses; with <see cref="Mailboxes"/> it must be one of them.</summary>
    public required DoorbellSpec Doorbell { get; init; }
    /// <summary>
    /// The remote core in the older terms; its kind, when the file does not give it, follows <see cref="Core"/>'s
    /// mechanism (a file giving both must make them agree).
    /// </summary>
    public RemoteSpec Remote
    {
        get => Core is { } core && !field.KindGiven ? field with { Kind = core.ToRemoteKind() } : field;
        init;
    } = new();
    /// <summary>How the loop waits.</summary>
    public NotificationSpec Notification { get; init; } = new();
    /// <summary>The CAN controllers shared with the remote (none by default).</summary>
    public CanSpec Can { get; init; } = new();
    /// <summary>The core's named memory regions, device-tree <c>reserved-memory</c> style; absent: the shared-memory window alone.</summary>
    public IReadOnlyList<RegionSpec>? Regions { get; init; }
    /// <summary>The core's doorbell channels, device-tree <c>mboxes</c>/<c>mbox-names</c> style; absent: the doorbell alone.</summary>
    public IReadOnlyList<MailboxSpec>? Mailboxes { get; init; }
    /// <summary>The core's lifecycle (mechanism, firmware, recovery, coredump, watchdog); absent: from <see cref="Remote"/>.</summary>
    public CoreSpec? Core { get; init; }

    /// <summary>The name of the region <see cref="EffectiveRegions"/> makes of the shared-memory window when no regions are given.</summary>
    public const string SharedRegionName = "shared";
    /// <summary>The name of the mailbox <see cref="EffectiveMailboxes"/> makes of the doorbell when no mailboxes are given.</summary>
    public const string DoorbellMailboxName = "doorbell";

    /// <summary><see cref="Regions"/>, or one region named "shared" made of the shared-memory window (vrings, buffers and the resource table).</summary>
    [JsonIgnore]
    public IReadOnlyList<RegionSpec> EffectiveRegions => Regions ??
    [
        new RegionSpec
        {
            Name = SharedRegionName, DeviceAddress = SharedMemory.DeviceAddress, PhysicalAddress = SharedMemory.PhysicalAddress, Size = SharedMemory.Size,
            Backing = new RegionBackingSpec { Kind = SharedMemory.Kind, Path = SharedMemory.Path, UioDevice = SharedMemory.UioDevice, UioMap = SharedMemory.UioMap },
            Roles = [RegionRole.Vrings, RegionRole.Buffers, RegionRole.ResourceTable],
        },
    ];

    /// <summary><see cref="Mailboxes"/>, or one mailbox named "doorbell" made of the doorbell (every notify id, both ways).</summary>
    [JsonIgnore]
    public IReadOnlyList<MailboxSpec> EffectiveMailboxes => Mailboxes ?? [MailboxSpec.From(DoorbellMailboxName, Doorbell)];

    /// <summary><see cref="Core"/>, or the mechanism <see cref="Remote"/>'s kind names with every other field at its default.</summary>
    [JsonIgnore]
    public CoreSpec EffectiveCore => Core ?? CoreSpec.From(Remote.Kind);

    /// <summary>How board files are read: camel-case keys, kebab-case enums, comments, no unknown or duplicate keys.</summary>
    /// <remarks>The metadata is <see cref="BoardJsonContext"/>'s, generated at compile time (trimming and Native AOT).</remarks>
    internal static readonly JsonSerializerOptions Json = new()
    {
        TypeInfoResolver = BoardJsonContext.Resolver(),
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        // A key written twice is a mistake whichever copy wins; null where the type has no null would surface later as
        // a NullReferenceException with no field named.
        AllowDuplicateProperties = false,
        RespectNullableAnnotations = true,
        Converters = { new BoardJsonContext.KebabEnums() },
    };

    /// <summary>The largest board file <see cref="Load"/> reads (1 MiB; the shipped ones are under 1 KiB).</summary>
    public const int MaxFileBytes = 1 << 20;

    /// <summary>Reads and validates a board file (a regular file of at most <see cref="MaxFileBytes"/>); errors name the file and the field.</summary>
    public static BoardDescriptor Load(string path) => Parse(BoardFileReader.ReadText(path, MaxFileBytes), path);

    /// <summary>
    /// Parses and validates board JSON of one core that the host serves today; <paramref name="source"/> names it in
    /// errors. A file with several cores, or one whose core the host cannot run yet, is refused saying so
    /// (<see cref="BoardFile.Parse"/> reads and validates every board file).
    /// </summary>
    public static BoardDescriptor Parse(string json, string source)
    {
        if (BoardFile.CountCores(json) is int cores)
            throw new BoardException($"board file '{source}' describes {cores} cores (\"cores\"); the service serves each (BoardFile.Load), this command one core per board");
        BoardDescriptor b = ParseCore(json, source);
        ServedBoardCheck.Check(b, source);
        return b;
    }

    /// <summary>
    /// Throws a <see cref="BoardException"/> naming <paramref name="source"/> and the field when the host cannot serve this
    /// core yet (a resource table outside the shared memory, a real core's start mechanism).
    /// </summary>
    public void CheckServed(string source) => ServedBoardCheck.Check(this, source);

    /// <summary>Parses and validates board JSON of one core, served or not.</summary>
    internal static BoardDescriptor ParseCore(string json, string source)
    {
        BoardDescriptor? b;
        try { b = JsonSerializer.Deserialize(json, (JsonTypeInfo<BoardDescriptor>)Json.GetTypeInfo(typeof(BoardDescriptor))); }
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
    public void Validate(string source) => BoardValidator.Validate(this, source, "");
}

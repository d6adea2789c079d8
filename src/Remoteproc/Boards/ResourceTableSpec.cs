using System.Text.Json.Serialization;

namespace AmpCan.Remoteproc.Boards;

/// <summary>
/// Where the resource table is: in the shared memory (the default), at an offset in another named region (i.MX8MP's
/// rsc-table), or where the firmware image's <c>.resource_table</c> section puts it (as Linux remoteproc finds it).
/// </summary>
public sealed record ResourceTableSpec
{
    /// <summary>Offset of the table in the shared memory, or in <see cref="Region"/> when that is given (0 with <see cref="InImage"/>).</summary>
    [JsonConverter(typeof(HexNumberConverter))] public ulong Offset { get; init; }
    /// <summary>Bytes reserved for it (the most read with <see cref="InImage"/>): at least the table's 16-byte header, inside the shared memory (or the region), apart from the buffer pool.</summary>
    [JsonConverter(typeof(HexNumberConverter))] public ulong Size { get; init; } = 0x1000;
    /// <summary>The region the table is in (one with the resource-table role), not the shared memory; absent: the shared memory.</summary>
    public string? Region { get; init; }
    /// <summary>The table is where the firmware image's <c>.resource_table</c> section is, inside a region with the resource-table role.</summary>
    public bool InImage { get; init; }

    /// <summary>Whether the table is at <see cref="Offset"/> in the shared memory (as the host's runtime reads it today).</summary>
    [JsonIgnore] public bool InSharedMemory => Region is null && !InImage;
}

using System.Text.Json.Serialization;

namespace AmpCan.Remoteproc.Boards;

/// <summary>Where the resource table is in the shared memory.</summary>
public sealed record ResourceTableSpec
{
    /// <summary>Offset of the table in the shared memory.</summary>
    [JsonConverter(typeof(HexNumberConverter))] public ulong Offset { get; init; }
    /// <summary>Bytes reserved for it: at least the table's 16-byte header, inside the shared memory, apart from the buffer pool.</summary>
    [JsonConverter(typeof(HexNumberConverter))] public ulong Size { get; init; } = 0x1000;
}

using System.Text.Json.Serialization;

namespace AmpCan.Remoteproc.Boards;

/// <summary>What a memory region is for (board files say <c>"firmware"</c>, <c>"resource-table"</c>, …).</summary>
public enum RegionRole
{
    /// <summary>The firmware image's code and data are loaded here.</summary>
    Firmware,
    /// <summary>Vrings are placed here.</summary>
    Vrings,
    /// <summary>The vdevs' buffers (the rpmsg buffer pool) are placed here.</summary>
    Buffers,
    /// <summary>The resource table is here.</summary>
    ResourceTable,
    /// <summary>The remote's trace buffer is here.</summary>
    Trace,
    /// <summary>Memory the firmware's resource table claims as a carveout.</summary>
    Carveout,
}

/// <summary>How the host caches a region (board files say <c>"uncached"</c>, <c>"coherent"</c>, <c>"non-coherent"</c>).</summary>
public enum RegionCache
{
    /// <summary>Mapped uncached (dev-mem: /dev/mem opened O_SYNC) and accessed as device memory: aligned words only.</summary>
    Uncached,
    /// <summary>Mapped cacheable and accessed as normal memory: the carveout is coherent with the remote (a coherent interconnect), so no cache maintenance is needed.</summary>
    Coherent,
    /// <summary>Cacheable but not coherent with the remote: refused, as AmpCan does no cache maintenance (clean/invalidate around each ring and buffer access).</summary>
    NonCoherent,
}

/// <summary>
/// One named memory region of a remote core, as a device tree's <c>reserved-memory</c> node and the core's
/// <c>memory-region</c> list describe it: where the remote sees it, where Linux sees it, how AmpCan maps it, and what it is for.
/// </summary>
public sealed record RegionSpec
{
    /// <summary>Longest region name (a device-tree node name is at most 31 characters).</summary>
    public const int MaxNameLength = 31;

    /// <summary>The region's name, unique in its core, 1 to <see cref="MaxNameLength"/> characters (letters, digits, '-', '_', '.').</summary>
    public required string Name { get; init; }
    /// <summary>The remote's address of the first byte.</summary>
    [JsonConverter(typeof(HexNumberConverter))] public ulong DeviceAddress { get; init; }
    /// <summary>Linux's (the bus's) address of the first byte; meaningful for dev-mem and uio backing.</summary>
    [JsonConverter(typeof(HexNumberConverter))] public ulong PhysicalAddress { get; init; }
    /// <summary>Bytes in the region (not 0).</summary>
    [JsonConverter(typeof(HexNumberConverter))] public required ulong Size { get; init; }
    /// <summary>Where AmpCan gets the memory from.</summary>
    public required RegionBackingSpec Backing { get; init; }
    /// <summary>What the region is for: a set, at least one.</summary>
    public required IReadOnlyList<RegionRole> Roles { get; init; }
    /// <summary>
    /// The name of another region of the same core that is the same physical memory seen at another address (STM32MP1's
    /// MCU SRAM at 0x10000000 and 0x30000000); the two may overlap, and must be the same size.
    /// </summary>
    public string? AliasOf { get; init; }
    /// <summary>
    /// Memory another core of the board also uses: two cores' regions may overlap in physical address only when both are
    /// marked shared and cover exactly the same physical range.
    /// </summary>
    public bool Shared { get; init; }
    /// <summary>How the host caches the region; uncached unless the board says otherwise (dev-mem regions only).</summary>
    public RegionCache Cache { get; init; } = RegionCache.Uncached;

    /// <summary>Whether <paramref name="role"/> is among <see cref="Roles"/>.</summary>
    public bool Has(RegionRole role) => Roles.Contains(role);

    /// <summary>Whether the physical address names bus memory (dev-mem, uio), not a memfd or a file whose address is its own.</summary>
    [JsonIgnore]
    public bool IsPhysical => Backing.Kind is SharedMemoryKind.DevMem or SharedMemoryKind.Uio;
}

/// <summary>Where a region's memory comes from (the fields <see cref="SharedMemorySpec"/> has for the same kinds).</summary>
public sealed record RegionBackingSpec
{
    /// <summary>memfd, file, dev-mem (the region's physical address in /dev/mem) or uio.</summary>
    public required SharedMemoryKind Kind { get; init; }
    /// <summary>File path (file kind).</summary>
    public string? Path { get; init; }
    /// <summary>UIO device number, <c>/dev/uioN</c> (uio kind).</summary>
    public int UioDevice { get; init; }
    /// <summary>UIO map index, below <see cref="SharedMemorySpec.UioMaps"/> (uio kind).</summary>
    public int UioMap { get; init; }
}

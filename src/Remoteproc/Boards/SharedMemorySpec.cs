using System.Text.Json.Serialization;

namespace AmpCan.Remoteproc.Boards;

/// <summary>Where a board's shared memory comes from.</summary>
public enum SharedMemoryKind
{
    /// <summary>An anonymous memfd (simulation).</summary>
    Memfd,
    /// <summary>A named file (/dev/shm, hugetlbfs, a PCI resource file).</summary>
    File,
    /// <summary>A physical window of /dev/mem.</summary>
    DevMem,
    /// <summary>A UIO map.</summary>
    Uio,
}

/// <summary>The shared-memory window of a board.</summary>
public sealed record SharedMemorySpec
{
    /// <summary>Where the memory comes from.</summary>
    public required SharedMemoryKind Kind { get; init; }
    /// <summary>Bytes mapped.</summary>
    [JsonConverter(typeof(HexNumberConverter))] public required ulong Size { get; init; }
    /// <summary>The remote's address of the first byte.</summary>
    [JsonConverter(typeof(HexNumberConverter))] public ulong DeviceAddress { get; init; }
    /// <summary>File path (file kind).</summary>
    public string? Path { get; init; }
    /// <summary>Physical address (devmem kind).</summary>
    [JsonConverter(typeof(HexNumberConverter))] public ulong PhysicalAddress { get; init; }
    /// <summary>UIO device and map (uio kind).</summary>
    public int UioDevice { get; init; }
    /// <summary>UIO map index (uio kind).</summary>
    public int UioMap { get; init; }
}

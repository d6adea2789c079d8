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
    /// <summary>
    /// The first device address past what a resource table can describe: its vring and carveout addresses are u32
    /// (<c>fw_rsc_vdev_vring.da</c>, <c>fw_rsc_carveout.da</c>), so the window must end at or below 4 GiB.
    /// </summary>
    public const ulong DeviceAddressLimit = 1UL << 32;
    /// <summary>UIO maps a device can have (Linux <c>MAX_UIO_MAPS</c>).</summary>
    public const int UioMaps = 5;

    /// <summary>Bytes mapped (not 0; with the device address, at most <see cref="DeviceAddressLimit"/>).</summary>
    [JsonConverter(typeof(HexNumberConverter))] public required ulong Size { get; init; }
    /// <summary>The remote's address of the first byte; the window must end at or below <see cref="DeviceAddressLimit"/>.</summary>
    [JsonConverter(typeof(HexNumberConverter))] public ulong DeviceAddress { get; init; }
    /// <summary>File path (file kind).</summary>
    public string? Path { get; init; }
    /// <summary>Physical address (devmem kind).</summary>
    [JsonConverter(typeof(HexNumberConverter))] public ulong PhysicalAddress { get; init; }
    /// <summary>UIO device number, <c>/dev/uioN</c> (uio kind).</summary>
    public int UioDevice { get; init; }
    /// <summary>UIO map index, below <see cref="UioMaps"/> (uio kind).</summary>
    public int UioMap { get; init; }
}

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
    /// <summary>Permissions of a file AmpCan creates (file kind), octal as chmod takes them; default "0600": only its owner.</summary>
    public string FileMode { get; init; } = "0600";
    /// <summary>User id a created file is given (file kind, needs the privilege to chown); default: ours.</summary>
    public int? FileOwner { get; init; }
    /// <summary>Group id a created file is given (file kind); default: ours.</summary>
    public int? FileGroup { get; init; }
    /// <summary>
    /// Map a file that belongs to neither this user nor root (file kind). Off by default: its owner could truncate or
    /// rewrite the memory under us; say so only when that user is the remote.
    /// </summary>
    public bool AllowForeignOwner { get; init; }

    /// <summary>The permissions <see cref="FileMode"/> names; null when it is not an octal mode of at most 0777.</summary>
    public UnixFileMode? ParsedFileMode =>
        FileMode.Length is >= 1 and <= 4 && FileMode.All(c => c is >= '0' and <= '7') && Convert.ToInt32(FileMode, 8) is int m and <= 0x1FF
            ? (UnixFileMode)m : null;
}

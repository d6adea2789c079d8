namespace AmpCan.Remoteproc;

/// <summary>What the host did with one piece of memory the table names.</summary>
public enum PlacementKind
{
    /// <summary>A carveout with FW_RSC_ADDR_ANY, placed by the host (da and pa written back).</summary>
    CarveoutAllocated,
    /// <summary>A carveout at the device address the firmware fixed, checked to lie in a window (pa written back).</summary>
    CarveoutFixed,
    /// <summary>A vring with FW_RSC_ADDR_ANY, placed by the host (da written back).</summary>
    VringAllocated,
    /// <summary>A vring at the device address the firmware fixed, checked to lie in a window.</summary>
    VringFixed,
    /// <summary>A block the host took for itself (<see cref="ResourceTableAllocator.Allocate"/>).</summary>
    Buffer,
    /// <summary>
    /// A devmem entry: a peripheral window the remote wants mapped. A user-space host programs no IOMMU, so it is
    /// neither checked nor written, only reported for the caller (Linux too maps it only through an IOMMU domain).
    /// </summary>
    DevMemNotMapped,
}

/// <summary>One piece of memory the host placed or checked.</summary>
/// <param name="Kind">What was done.</param>
/// <param name="EntryIndex">The table entry (offset-array index), or -1 for a host buffer.</param>
/// <param name="What">The entry in words, e.g. <c>carveout 1 'text'</c> or <c>vdev 2 (id 36) vring 0</c>.</param>
/// <param name="DeviceAddress">Remote's address of the first byte.</param>
/// <param name="Length">Bytes.</param>
/// <param name="Window">The window it lies in (null for devmem).</param>
/// <param name="PhysicalAddress">pa written back (carveouts), or null.</param>
/// <param name="Vring">For a vring, its index in the vdev.</param>
public sealed record ResourcePlacement(PlacementKind Kind, int EntryIndex, string What, ulong DeviceAddress, ulong Length, AllocationWindow? Window,
    ulong? PhysicalAddress = null, int? Vring = null)
{
    /// <summary>One log line, e.g. <c>vdev 2 (id 36) vring 0: allocated at 0x10004000+0x1406 in shm</c>.</summary>
    public string Description => Kind switch
    {
        PlacementKind.DevMemNotMapped => $"{What}: da 0x{DeviceAddress:x}+0x{Length:x} not mapped (devmem needs an IOMMU; left to the caller)",
        _ => $"{What}: {(Kind is PlacementKind.CarveoutFixed or PlacementKind.VringFixed ? "fixed" : "allocated")} at 0x{DeviceAddress:x}+0x{Length:x} in {Window!.Region.Name}"
            + (PhysicalAddress is ulong pa ? $", pa 0x{pa:x}" + (pa > uint.MaxValue ? " (written back as its low 32 bits, as Linux does)" : "") : ""),
    };
}

/// <summary>A notify id the host gave a vdev or a vring, written back into the table.</summary>
/// <param name="EntryIndex">The vdev's table index.</param>
/// <param name="Vring">The vring, or null for the vdev's own notifyid.</param>
/// <param name="Previous">What the table said before.</param>
/// <param name="NotifyId">What it says now.</param>
public sealed record NotifyIdAssignment(int EntryIndex, int? Vring, uint Previous, uint NotifyId)
{
    /// <summary>One log line.</summary>
    public string Description => $"vdev {EntryIndex}{(Vring is int q ? $" vring {q}" : "")}: notify id {NotifyId} (table said {(Previous == uint.MaxValue ? "any" : Previous.ToString(System.Globalization.CultureInfo.InvariantCulture))})";
}

/// <summary>Everything <see cref="ResourceTableAllocator.Apply"/> placed, checked and assigned, for logging.</summary>
/// <param name="Memory">Carveouts, vrings and devmem in the order handled.</param>
/// <param name="NotifyIds">Notify ids the host gave (ids the table fixed and kept are not listed).</param>
public sealed record ResourceTableAllocation(IReadOnlyList<ResourcePlacement> Memory, IReadOnlyList<NotifyIdAssignment> NotifyIds)
{
    /// <summary>One line per placement and per assigned id.</summary>
    public IEnumerable<string> Lines => Memory.Select(m => m.Description).Concat(NotifyIds.Select(n => n.Description));
}

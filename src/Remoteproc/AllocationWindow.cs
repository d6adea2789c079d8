using AmpCan.SharedMem;

namespace AmpCan.Remoteproc;

/// <summary>What a window of host memory may hold when a resource table is placed in it.</summary>
[Flags]
public enum WindowUse
{
    /// <summary>Nothing (not a valid window).</summary>
    None = 0,
    /// <summary>Vrings of the table's vdevs.</summary>
    Vrings = 1,
    /// <summary>The table's carveouts (RSC_CARVEOUT).</summary>
    Carveouts = 2,
    /// <summary>Buffers the host allocates for the vdevs (Linux's <c>vdev%dbuffer</c>), through <see cref="ResourceTableAllocator.Allocate"/>.</summary>
    Buffers = 4,
}

/// <summary>A window of memory both sides can address, and what may be placed in it.</summary>
/// <param name="Region">The memory; its device address is the remote's view of its first byte.</param>
/// <param name="Uses">What may be placed in it.</param>
/// <param name="PhysicalAddress">Physical address of its first byte, written back as a carveout's pa; null: the device address (no IOMMU, as Linux assumes then).</param>
/// <param name="Name">
/// The carveout's name where the board names it (a device tree's reserved-memory node): a window named
/// <c>vdev{N}vring{M}</c> is where vring M of the table's N-th vdev goes first, as Linux's rproc_alloc_vring looks
/// the carveout of that name up before allocating anywhere else.
/// </param>
public sealed record AllocationWindow(IoRegion Region, WindowUse Uses, ulong? PhysicalAddress = null, string? Name = null)
{
    /// <summary>Device address of the first byte.</summary>
    public ulong Start => Region.DeviceAddress;

    /// <summary>Device address one past the last byte.</summary>
    public ulong End => Region.DeviceAddress + Region.Length;

    /// <summary>Physical address of the byte at device address <paramref name="deviceAddress"/> (which must lie in the window).</summary>
    public ulong PhysicalOf(ulong deviceAddress) => (PhysicalAddress ?? Start) + (deviceAddress - Start);

    /// <summary>For errors and logs, e.g. <c>shm [0x10000000+0x100000, vrings|buffers]</c>.</summary>
    public override string ToString() => $"{Region.Name} [0x{Start:x}+0x{Region.Length:x}, {Uses.ToString().ToLowerInvariant().Replace(", ", "|", StringComparison.Ordinal)}]";
}

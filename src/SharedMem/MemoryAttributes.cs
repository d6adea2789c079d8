namespace AmpCan.SharedMem;

/// <summary>How a region's memory may be accessed: a property of where it comes from, which the code on top honours.</summary>
public enum MemoryAttributes
{
    /// <summary>Ordinary cached memory (memfds, files, a guest's RAM): any access, any width, vector copies.</summary>
    Normal,
    /// <summary>
    /// Device memory (a /dev/mem window opened O_SYNC, a UIO map, a PCI BAR): uncached, and on Arm it faults on
    /// unaligned and some vector accesses, so bulk copies go through <see cref="DeviceMemoryCopy"/>, aligned, one
    /// naturally aligned word at a time, and nobody else gets a span into it.
    /// </summary>
    Device,
}

using AmpCan.SharedMem;

namespace AmpCan.Remoteproc.Firmware;

/// <summary>
/// Copies a firmware image's PT_LOAD segments into the remote's memory, as Linux's rproc_elf_load_segments does
/// (drivers/remoteproc/remoteproc_elf_loader.c): p_paddr is the device address, p_filesz bytes come from the file at
/// p_offset, and the p_memsz - p_filesz bytes after them are zeroed (BSS). Unlike Linux, which stops at the first bad
/// segment after writing the ones before it, every segment is checked against the map before any byte is written, so
/// a refused image leaves memory as it was.
/// </summary>
public static class FirmwareLoader
{
    /// <summary>Loads <paramref name="image"/> through <paramref name="map"/>; nothing is written unless every segment fits.</summary>
    /// <exception cref="FirmwareException">
    /// The image has nothing to load, a segment's device range is not wholly inside one window of the map, or the
    /// <c>.resource_table</c> section's device range is not (AmpCan serves the table from that memory).
    /// </exception>
    public static LoadedFirmware Load(ElfImage image, MemoryMap map)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(map);

        var plan = new List<(ElfSegment Segment, IoRegion Region, ulong Offset)>();
        foreach (ElfSegment s in image.Segments)
        {
            if (!s.IsLoad || s.MemorySize == 0) continue; // a zero-size PT_LOAD has nothing to place
            if (!map.TryTranslate(s.PhysicalAddress, s.MemorySize, out IoRegion region, out ulong offset))
                throw new FirmwareException($"program header {s.Index} (PT_LOAD): device range p_paddr 0x{s.PhysicalAddress:x} + p_memsz 0x{s.MemorySize:x} is not inside one window of the memory map ({Windows(map)})");
            plan.Add((s, region, offset));
        }
        if (plan.Count == 0) throw new FirmwareException("no PT_LOAD segment has bytes to load (Linux: \"No loadable segments\")");

        ResourceTableSection? table = ResourceTableSection.Find(image);
        if (table is not null && !map.TryTranslate(table.DeviceAddress, table.Size, out _, out _))
            throw new FirmwareException($"section {table.SectionIndex} ({ResourceTableSection.SectionName}): device range sh_addr 0x{table.DeviceAddress:x} + sh_size 0x{table.Size:x} is not inside one window of the memory map ({Windows(map)})");

        var loaded = new LoadedSegment[plan.Count];
        for (int i = 0; i < plan.Count; i++)
        {
            var (s, region, offset) = plan[i];
            region.Write(offset, image.SegmentBytes(s).Span);
            if (s.MemorySize > s.FileSize) region.Clear(offset + s.FileSize, s.MemorySize - s.FileSize); // device memory: word by word, aligned
            loaded[i] = new LoadedSegment(s.Index, s.PhysicalAddress, s.FileSize, s.MemorySize, region.Name, offset);
        }
        return new LoadedFirmware(image.Entry, loaded, table);
    }

    private static string Windows(MemoryMap map) =>
        map.Regions.Count == 0 ? "it has none" : string.Join(", ", map.Regions.Select(r => $"{r.Name} 0x{r.DeviceAddress:x}+0x{r.Length:x}"));
}

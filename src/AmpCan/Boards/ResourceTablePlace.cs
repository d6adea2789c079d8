using AmpCan.Remoteproc.Boards;
using AmpCan.Remoteproc.Firmware;
using AmpCan.SharedMem;

namespace AmpCan.Host.Boards;

/// <summary>
/// Where the host reads a core's resource table, as the board says (<see cref="ResourceTableSpec"/>): at an offset in the
/// shared memory, at an offset in a named region, or where the firmware image's <c>.resource_table</c> section lands
/// (its device address translated through the core's memory map).
/// </summary>
internal static class ResourceTablePlace
{
    /// <summary>
    /// The table's offset in the shared memory when a simulated remote in this process boots from <paramref name="image"/>:
    /// it reads its table there, so the section must be inside that window and no larger than resourceTable.size.
    /// </summary>
    public static ulong OffsetInSharedMemory(BoardDescriptor b, MappedRegion shared, ResourceTableSection table, string image)
    {
        CheckSize(b, table, image);
        if (table.DeviceAddress < shared.DeviceAddress || table.Size > shared.Size || table.DeviceAddress - shared.DeviceAddress > shared.Size - table.Size)
            throw new BoardException($"board '{b.Name}': firmware {image}: its resource table at 0x{table.DeviceAddress:x} (0x{table.Size:x} bytes) is outside the shared memory " +
                $"0x{shared.DeviceAddress:x}+0x{shared.Size:x}, where a simulated remote reads it");
        return table.DeviceAddress - shared.DeviceAddress;
    }

    /// <summary>
    /// The memory the table is read from: the section of an image the host loaded or read (<paramref name="section"/>,
    /// null when none), else resourceTable's region and offset, else <paramref name="sharedOffset"/> in the shared memory.
    /// </summary>
    /// <exception cref="BoardException">The table is in the image but no image was read, or the section is too large or outside every region.</exception>
    public static IoRegion Window(BoardDescriptor b, CoreMemory memory, ResourceTableSection? section, ulong sharedOffset)
    {
        ResourceTableSpec t = b.ResourceTable;
        if (t.InImage)
        {
            if (section is null)
                throw new BoardException($"board '{b.Name}': resourceTable.inImage: the table is where the firmware image puts it, but no image was loaded or read " +
                    "(a core whose mechanism loads no image needs core.firmware naming the image it runs)");
            CheckSize(b, section, "the image");
            if (!memory.Map.TryTranslate(section.DeviceAddress, section.Size, out IoRegion region, out ulong offset))
                throw new BoardException($"board '{b.Name}': the image's {ResourceTableSection.SectionName} at device address 0x{section.DeviceAddress:x} (0x{section.Size:x} bytes) " +
                    $"is not inside one region ({string.Join(", ", memory.Map.Regions.Select(r => $"{r.Name} 0x{r.DeviceAddress:x}+0x{r.Length:x}"))})");
            return region.Slice(offset, section.Size);
        }
        if (section is null && t.Region is string name)
            return memory.Window(name).Slice(t.Offset, t.Size);
        IoRegion shared = memory.SharedMemory.Io;
        return shared.Slice(sharedOffset, Math.Min(t.Size, shared.Length - sharedOffset));
    }

    private static void CheckSize(BoardDescriptor b, ResourceTableSection table, string image)
    {
        if (table.Size > b.ResourceTable.Size)
            throw new BoardException($"board '{b.Name}': firmware {image}: its resource table of 0x{table.Size:x} bytes is larger than resourceTable.size 0x{b.ResourceTable.Size:x}");
    }
}

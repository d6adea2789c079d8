using AmpCan.Remoteproc.Boards;

namespace AmpCan.Remoteproc.Firmware;

/// <summary>Whether one device range of the image lies inside the board's memory.</summary>
/// <param name="What">"program header 2 (PT_LOAD)" or "section 5 (.resource_table)".</param>
/// <param name="DeviceAddress">Its first device address.</param>
/// <param name="Size">Its size in memory.</param>
/// <param name="Fits">True when all of it is inside the board's window.</param>
public sealed record RangeFit(string What, ulong DeviceAddress, ulong Size, bool Fits);

/// <summary>Whether an image fits a board: every PT_LOAD segment with bytes, and the resource table, inside the board's memory.</summary>
/// <param name="Board">The board's name.</param>
/// <param name="WindowAddress">The device address of the board's shared-memory window.</param>
/// <param name="WindowSize">Its size.</param>
/// <param name="Ranges">Each range checked.</param>
public sealed record BoardFit(string Board, ulong WindowAddress, ulong WindowSize, IReadOnlyList<RangeFit> Ranges)
{
    /// <summary>True when every range fits.</summary>
    public bool Fits => Ranges.All(r => r.Fits);

    /// <summary>Checks <paramref name="image"/> against <paramref name="board"/>'s memory.</summary>
    /// <remarks>
    /// A board declares one shared-memory window today, so that window is the memory checked. When the board schema
    /// grows a list of named regions (firmware, vrings, buffers, resource table), this check must move to those regions.
    /// </remarks>
    public static BoardFit Check(ElfImage image, BoardDescriptor board)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(board);
        ulong start = board.SharedMemory.DeviceAddress, size = board.SharedMemory.Size;
        bool Inside(ulong address, ulong length) => address - start < size && length <= size - (address - start); // wraps below the window to a huge offset
        var ranges = new List<RangeFit>();
        foreach (ElfSegment s in image.Segments.Where(s => s.IsLoad && s.MemorySize != 0))
            ranges.Add(new RangeFit($"program header {s.Index} (PT_LOAD)", s.PhysicalAddress, s.MemorySize, Inside(s.PhysicalAddress, s.MemorySize)));
        if (ResourceTableSection.Find(image) is { } t)
            ranges.Add(new RangeFit($"section {t.SectionIndex} ({ResourceTableSection.SectionName})", t.DeviceAddress, t.Size, Inside(t.DeviceAddress, t.Size)));
        return new BoardFit(board.Name, start, size, ranges);
    }
}

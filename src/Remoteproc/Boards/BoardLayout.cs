using AmpCan.Vring;
using static AmpCan.Remoteproc.Boards.SizeNotation;

namespace AmpCan.Remoteproc.Boards;

/// <summary>An area a board puts in its shared memory, named as errors name it (<paramref name="Offset"/> from the window's first byte).</summary>
public readonly record struct BoardArea(string What, ulong Offset, ulong Size);

/// <summary>
/// What the board and the remote's resource table place in the shared memory (the table, the host's buffer pool, every
/// vring, the buffers of AmpCan's drivers of remote-owned CAN controllers), checked once both are known: each inside
/// the window, none overlapping another. A remote whose vrings overlap the pool would otherwise fail the device many
/// messages later, far from the cause.
/// </summary>
public static class BoardLayout
{
    private readonly record struct Area(string What, ulong Start, ulong Size)
    {
        public ulong End => Start + Size;
    }

    /// <summary>Throws a <see cref="BoardException"/> naming the first area outside the window or the first two that overlap.</summary>
    public static void Check(BoardDescriptor board, ResourceTable table, ulong poolSize)
    {
        List<Area> areas = Placed(board, table, poolSize);
        foreach (Area a in areas) Inside(board, a);
        for (int i = 0; i < areas.Count; i++)
            for (int j = i + 1; j < areas.Count; j++)
                Apart(board, areas[i], areas[j]);
    }

    /// <summary>
    /// Throws a <see cref="BoardException"/> naming the first of <paramref name="added"/> that is outside the window or
    /// overlaps the table, the pool (<paramref name="poolSize"/> bytes), a vring or one added before it: areas whose
    /// size is known only later than <see cref="Check"/> runs, such as a driver's buffers sized by its vdev's vrings.
    /// </summary>
    public static void CheckAdded(BoardDescriptor board, ResourceTable table, ulong poolSize, IReadOnlyList<BoardArea> added)
    {
        List<Area> areas = Placed(board, table, poolSize);
        ulong window = board.SharedMemory.DeviceAddress;
        foreach (BoardArea b in added)
        {
            if (b.Offset > board.SharedMemory.Size || b.Size > board.SharedMemory.Size - b.Offset)
                throw new BoardException($"board '{board.Name}': {b.What} {Range(window + b.Offset, b.Size)} is not inside the shared memory {Range(window, board.SharedMemory.Size)}");
            var a = new Area(b.What, window + b.Offset, b.Size);
            foreach (Area other in areas) Apart(board, other, a);
            areas.Add(a);
        }
    }

    private static List<Area> Placed(BoardDescriptor board, ResourceTable table, ulong poolSize)
    {
        ulong window = board.SharedMemory.DeviceAddress;
        var areas = new List<Area>
        {
            // Where the table really is (a loaded image may have put it elsewhere than resourceTable.offset says).
            new("the resource table", table.Window.DeviceAddress, table.Window.Length),
            new("the host's rpmsg buffer pool", window + board.Rpmsg.BufferPoolOffset, poolSize),
        };
        if (board.EffectiveCore.Heartbeat is ulong beat) areas.Add(new("the heartbeat word (core.heartbeat)", beat, 4));
        foreach (TraceResource t in table.Traces) areas.Add(new($"trace buffer '{t.Name}' (entry {t.Index})", t.DeviceAddress, t.Length));
        foreach (VdevResource vdev in table.Vdevs)
            for (int q = 0; q < vdev.QueueCount; q++)
            {
                VringResource r = vdev.Vring(q);
                if (r.DeviceAddress == Wire.ResourceTableLayout.AddressAny) continue; // placed by the host later
                areas.Add(new($"vdev {vdev.Index} (id {vdev.DeviceId}) vring {q}", r.DeviceAddress, VringLayout.LegacySize((int)r.QueueSize, r.Align)));
            }
        return areas;
    }

    private static void Inside(BoardDescriptor board, Area a)
    {
        ulong window = board.SharedMemory.DeviceAddress, windowEnd = window + board.SharedMemory.Size;
        if (a.Start < window || a.End > windowEnd)
            throw new BoardException($"board '{board.Name}': {a.What} {Range(a.Start, a.Size)} is not inside the shared memory {Range(window, board.SharedMemory.Size)}");
    }

    private static void Apart(BoardDescriptor board, Area first, Area second)
    {
        if (first.Start < second.End && second.Start < first.End)
            throw new BoardException($"board '{board.Name}': {second.What} {Range(second.Start, second.Size)} overlaps {first.What} {Range(first.Start, first.Size)}");
    }
}

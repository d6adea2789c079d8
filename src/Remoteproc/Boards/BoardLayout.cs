using AmpCan.Vring;
using static AmpCan.Remoteproc.Boards.SizeNotation;

namespace AmpCan.Remoteproc.Boards;

/// <summary>
/// What the board and the remote's resource table place in the shared memory (the table, the host's buffer pool, every
/// vring), checked once both are known: each inside the window, none overlapping another. A remote whose vrings overlap
/// the pool would otherwise fail the device many messages later, far from the cause.
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
        ulong window = board.SharedMemory.DeviceAddress, windowEnd = window + board.SharedMemory.Size;
        var areas = new List<Area>
        {
            new("the resource table", window + board.ResourceTable.Offset, board.ResourceTable.Size),
            new("the host's rpmsg buffer pool", window + board.Rpmsg.BufferPoolOffset, poolSize),
        };
        foreach (VdevResource vdev in table.Vdevs)
            for (int q = 0; q < vdev.QueueCount; q++)
            {
                VringResource r = vdev.Vring(q);
                if (r.DeviceAddress == Wire.ResourceTableLayout.AddressAny) continue; // placed by the host later
                areas.Add(new($"vdev {vdev.Index} (id {vdev.DeviceId}) vring {q}", r.DeviceAddress, VringLayout.LegacySize((int)r.QueueSize, r.Align)));
            }
        foreach (Area a in areas)
            if (a.Start < window || a.End > windowEnd)
                throw new BoardException($"board '{board.Name}': {a.What} {Range(a.Start, a.Size)} is not inside the shared memory {Range(window, board.SharedMemory.Size)}");
        for (int i = 0; i < areas.Count; i++)
            for (int j = i + 1; j < areas.Count; j++)
                if (areas[i].Start < areas[j].End && areas[j].Start < areas[i].End)
                    throw new BoardException($"board '{board.Name}': {areas[j].What} {Range(areas[j].Start, areas[j].Size)} overlaps {areas[i].What} {Range(areas[i].Start, areas[i].Size)}");
    }
}

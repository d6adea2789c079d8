using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Boards;
using AmpCan.SharedMem;
using AmpCan.Vring;

namespace AmpCan.Host.Boards;

/// <summary>
/// <see cref="BoardLayout"/> for a core with declared regions: what the board and the remote's table place (the table,
/// the host's rpmsg buffer pool, the heartbeat, trace buffers, every vring) each wholly inside one mapped region, none
/// overlapping another; a table whose vrings overlap the pool would otherwise fail the device far from the cause.
/// </summary>
internal static class CoreLayout
{
    private readonly record struct Area(string What, ulong Start, ulong Size);

    /// <summary>Throws a <see cref="BoardException"/> naming the first area outside every region or the first two that overlap.</summary>
    public static void Check(BoardDescriptor board, ResourceTable table, ulong poolSize, MemoryMap memory)
    {
        var areas = new List<Area>
        {
            new("the resource table", table.Window.DeviceAddress, table.Window.Length),
            new("the host's rpmsg buffer pool", board.SharedMemory.DeviceAddress + board.Rpmsg.BufferPoolOffset, poolSize),
        };
        if (board.EffectiveCore.Heartbeat is ulong beat) areas.Add(new("the heartbeat word (core.heartbeat)", beat, 4));
        foreach (TraceResource t in table.Traces) areas.Add(new($"trace buffer '{t.Name}' (entry {t.Index})", t.DeviceAddress, t.Length));
        foreach (VdevResource vdev in table.Vdevs)
            for (int q = 0; q < vdev.QueueCount; q++)
            {
                VringResource r = vdev.Vring(q);
                if (r.DeviceAddress == Remoteproc.Wire.ResourceTableLayout.AddressAny) continue; // placed by the host later
                areas.Add(new($"vdev {vdev.Index} (id {vdev.DeviceId}) vring {q}", r.DeviceAddress, VringLayout.LegacySize((int)r.QueueSize, r.Align)));
            }
        for (int i = 0; i < areas.Count; i++)
        {
            Area a = areas[i];
            if (!memory.TryTranslate(a.Start, a.Size, out _, out _))
                throw new BoardException($"board '{board.Name}': {a.What} {Range(a.Start, a.Size)} is not inside one region " +
                    $"({string.Join(", ", memory.Regions.Select(r => $"{r.Name} {Range(r.DeviceAddress, r.Length)}"))})");
            for (int j = 0; j < i; j++)
                if (a.Start < areas[j].Start + areas[j].Size && areas[j].Start < a.Start + a.Size)
                    throw new BoardException($"board '{board.Name}': {a.What} {Range(a.Start, a.Size)} overlaps {areas[j].What} {Range(areas[j].Start, areas[j].Size)}");
        }
    }

    private static string Range(ulong start, ulong size) => $"[0x{start:x}..0x{start + size - 1:x}]";
}

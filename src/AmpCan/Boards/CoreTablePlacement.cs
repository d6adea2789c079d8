using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Boards;
using AmpCan.Remoteproc.Firmware;
using AmpCan.Rpmsg;
using Microsoft.Extensions.Logging;

namespace AmpCan.Host.Boards;

/// <summary>
/// What Linux's remoteproc does between loading an image and releasing the core (rproc_fw_boot: rproc_handle_resources,
/// rproc_alloc_registered_carveouts), for a core this host loads itself: the loaded resource table's carveouts and vrings
/// placed by <see cref="ResourceTableAllocator"/> in the core's regions (windows from their roles), the image's segments,
/// trace buffers, heartbeat and the host's rpmsg pool kept clear, and the addresses and notify ids written back into
/// the table in the core's memory, so that the core reads them when it starts.
/// </summary>
internal static class CoreTablePlacement
{
    /// <summary>
    /// Places the table of the image loaded as <paramref name="loaded"/> and logs one line per placement; the table is
    /// written only when everything fits.
    /// </summary>
    /// <param name="board">The board.</param>
    /// <param name="memory">The core's regions, mapped.</param>
    /// <param name="loaded">What the host loaded (its segments are reserved).</param>
    /// <param name="image">The image's path, for errors.</param>
    /// <param name="rpmsgPoolSize">Bytes of the host's rpmsg buffer pool for the rpmsg vdev's (rx, tx) ring sizes; null: the pool runs to the end of the shared memory.</param>
    /// <param name="logger">Where the placements are logged.</param>
    /// <returns>What was placed, or null when the board reads its table elsewhere than in the image (it is written by the core after it starts).</returns>
    /// <exception cref="BoardException">The table is malformed, or an entry does not fit the board's regions (the message names the entry).</exception>
    public static ResourceTableAllocation? Apply(BoardDescriptor board, CoreMemory memory, LoadedFirmware loaded, string image, Func<int, int, ulong>? rpmsgPoolSize, ILogger logger)
    {
        // A table outside the image exists only once the core has written it: nothing to place before the release.
        if (!board.ResourceTable.InImage || loaded.ResourceTable is null) return null;
        string at = $"board '{board.Name}': core.firmware {image}: resource table";
        ResourceTable table;
        try { table = ResourceTable.Parse(ResourceTablePlace.Window(board, memory, loaded.ResourceTable, board.ResourceTable.Offset)); }
        catch (ResourceTableException e) { throw new BoardException($"{at}: {e.Message}"); }

        AllocationWindow[] windows = [.. board.EffectiveRegions.Select(r => (Region: r, Uses: Uses(r))).Where(w => w.Uses != WindowUse.None)
            .Select(w => new AllocationWindow(memory.Window(w.Region.Name), w.Uses, w.Region.IsPhysical ? w.Region.PhysicalAddress : null, w.Region.Name))];
        if (windows.Length == 0)
            throw new BoardException($"{at}: no region has the role vrings, buffers or carveout, so the table's vrings and carveouts have nowhere to be placed or checked; " +
                "give the regions that hold them those roles");
        ResourceTableAllocator allocator;
        try { allocator = new ResourceTableAllocator(windows); }
        catch (ArgumentException e) { throw new BoardException($"board '{board.Name}': regions: {e.Message}"); }

        foreach (LoadedSegment s in loaded.Segments)
            allocator.Reserve($"image segment {s.SegmentIndex}", s.DeviceAddress, s.MemorySize);
        foreach (TraceResource t in table.Traces)
            if (t.DeviceAddress != Remoteproc.Wire.ResourceTableLayout.AddressAny) allocator.Reserve($"trace buffer '{t.Name}'", t.DeviceAddress, t.Length);
        if (board.EffectiveCore.Heartbeat is ulong beat) allocator.Reserve("the heartbeat word (core.heartbeat)", beat, 4);
        allocator.Reserve("the host's rpmsg buffer pool", board.SharedMemory.DeviceAddress + board.Rpmsg.BufferPoolOffset, PoolSize(board, table, rpmsgPoolSize));

        ResourceTableAllocation placed;
        // KeepFixed, not Linux's renumbering: the board routes kicks by the table's notify ids (mailboxes[].notifyIds,
        // checked against the table by CoreMailboxes.CheckRoutes), and the firmware and the board file were written
        // against the same fixed ids (STM32MP1's IPCC: vq0 carries id 0, vq1 id 1). Renumbering would silently move a
        // ring to another channel; keeping them refuses a table whose ids clash, naming them, before the core runs.
        // Ids the table leaves to the host (0xFFFFFFFF) get the lowest free one, as OpenAMP's handle_vdev_rsc gives them.
        try { placed = allocator.Apply(table, NotifyIdPolicy.KeepFixed); }
        catch (ResourceTableException e) { throw new BoardException($"{at}: {e.Message}"); }
        foreach (string line in placed.Lines)
            logger.LogInformation("board {Board}: resource table: {Placement}", board.Name, line);
        return placed;
    }

    private static WindowUse Uses(RegionSpec r) =>
        (r.Has(RegionRole.Vrings) ? WindowUse.Vrings : WindowUse.None)
        | (r.Has(RegionRole.Buffers) ? WindowUse.Buffers : WindowUse.None)
        | (r.Has(RegionRole.Carveout) ? WindowUse.Carveouts : WindowUse.None);

    // The pool the host will carve at rpmsg.bufferPoolOffset once it reads the table: its size follows the rpmsg vdev's
    // ring sizes, known now. Without them (no rpmsg vdev, or no way to size it) everything from the offset on is kept.
    private static ulong PoolSize(BoardDescriptor board, ResourceTable table, Func<int, int, ulong>? size)
    {
        ulong rest = board.SharedMemory.Size > board.Rpmsg.BufferPoolOffset ? board.SharedMemory.Size - board.Rpmsg.BufferPoolOffset : 0;
        VdevResource? rpmsg = table.Vdevs.FirstOrDefault(v => v.DeviceId == VirtioRpmsg.DeviceId);
        if (size is null || rpmsg is null || rpmsg.QueueCount < 2) return rest;
        return Math.Min(size((int)rpmsg.Vring(0).QueueSize, (int)rpmsg.Vring(1).QueueSize), rest);
    }
}

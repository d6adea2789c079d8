using AmpCan.Remoteproc.Wire;
using AmpCan.Vring;
using static AmpCan.Remoteproc.Wire.ResourceTableLayout;

namespace AmpCan.Remoteproc;

/// <summary>
/// Does for a parsed resource table what Linux's remoteproc core does before it starts a remote
/// (drivers/remoteproc/remoteproc_core.c: rproc_handle_carveout and rproc_alloc_registered_carveouts,
/// rproc_parse_vring and rproc_alloc_vring, rproc_handle_vdev), over host memory windows instead of the DMA API:
/// places every carveout and vring the table leaves to the host (FW_RSC_ADDR_ANY), checks every one it fixes,
/// assigns notify ids, and writes the results back into the table. Any number of vdevs and vrings.
/// </summary>
/// <remarks>
/// Nothing is written until every entry has been checked and placed: a table that is refused is left as it was.
/// The only bytes ever written are the table's own fields (through its bounds-checked window); window memory is not
/// touched (vrings are zeroed by whoever sets them up, as Linux's rp_find_vq does). One allocator serves one boot of
/// the remote: after <see cref="Apply"/>, <see cref="Allocate"/> hands out the host's buffers from what is left.
/// Not thread-safe.
/// </remarks>
public sealed class ResourceTableAllocator
{
    // Linux allocates carveouts with dma_alloc_coherent, which hands out whole pages: a carveout placed by the host
    // starts on a page boundary (its len is kept as the table gives it).
    private const ulong CarveoutAlignment = 0x1000;

    // The split ring's descriptor table must be 16-byte aligned (virtio 1.x, 2.7 "Virtqueue alignment"); a table's
    // align may be as small as 4, which only bounds the used ring.
    private const ulong MinimumVringAlignment = 16;

    private const ulong AddressLimit = 1UL << 32; // the table's da fields are 32 bits

    private readonly AllocationWindow[] _windows;
    private readonly List<Used> _used = [];
    private bool _applied;

    private readonly record struct Used(ulong Start, ulong End, string What, bool IsFixedCarveout);

    /// <summary>An allocator over <paramref name="windows"/>, which must not overlap (in device addresses).</summary>
    /// <exception cref="ArgumentException">No window, a window for nothing, or two windows that overlap.</exception>
    public ResourceTableAllocator(IEnumerable<AllocationWindow> windows)
    {
        ArgumentNullException.ThrowIfNull(windows);
        _windows = [.. windows];
        if (_windows.Length == 0) throw new ArgumentException("at least one memory window is needed", nameof(windows));
        foreach (AllocationWindow w in _windows)
            if (w.Uses == WindowUse.None) throw new ArgumentException($"window {w} may hold nothing", nameof(windows));
        for (int i = 0; i < _windows.Length; i++)
            for (int j = i + 1; j < _windows.Length; j++)
                if (Overlap(_windows[i].Start, _windows[i].End, _windows[j].Start, _windows[j].End))
                    throw new ArgumentException($"windows {_windows[i]} and {_windows[j]} overlap", nameof(windows));
    }

    /// <summary>The windows, as given.</summary>
    public IReadOnlyList<AllocationWindow> Windows => _windows;

    /// <summary>
    /// Marks device addresses [<paramref name="deviceAddress"/>, +<paramref name="length"/>) as taken (a loaded
    /// firmware's segments, a region the host uses otherwise): nothing is allocated there and no fixed vring may lie
    /// there. A fixed carveout may: carveouts are how firmware describes its own memory.
    /// </summary>
    public void Reserve(string name, ulong deviceAddress, ulong length)
    {
        if (length == 0) return;
        if (deviceAddress > ulong.MaxValue - length)
            throw new ArgumentOutOfRangeException(nameof(length), $"reservation '{name}' at 0x{deviceAddress:x} of 0x{length:x} bytes wraps the address space");
        _used.Add(new Used(deviceAddress, deviceAddress + length, name, false));
    }

    /// <summary>
    /// Checks and places everything in <paramref name="table"/> that needs memory, assigns notify ids as
    /// <paramref name="notifyIds"/> says, writes da/pa/notifyid back into the table, and returns what it did.
    /// </summary>
    /// <exception cref="ResourceTableException">
    /// An entry that does not fit a window meant for it, overlaps another, runs past 4 GiB, or cannot be placed;
    /// two notify ids that clash. The message names the entry. The table is then unchanged.
    /// </exception>
    /// <exception cref="InvalidOperationException">Called twice on one allocator.</exception>
    public ResourceTableAllocation Apply(ResourceTable table, NotifyIdPolicy notifyIds = NotifyIdPolicy.KeepFixed)
    {
        ArgumentNullException.ThrowIfNull(table);
        if (_applied) throw new InvalidOperationException("this allocator already placed a table; use a new one for each boot of the remote");
        var used = new List<Used>(_used);
        var placed = new List<ResourcePlacement>();
        ulong tableStart = table.Window.DeviceAddress, tableEnd = tableStart + table.Window.Length;
        used.Add(new Used(tableStart, tableEnd, "the resource table", false));

        // 1. Carveouts the firmware fixed: wholly inside a carveout window, no two overlapping.
        foreach (CarveoutResource c in table.Carveouts)
        {
            if (c.Type != ResourceType.Carveout || c.DeviceAddress == AddressAny) continue;
            string what = Carveout(c);
            ulong end = Extent(what, c.DeviceAddress, c.Length);
            AllocationWindow w = WindowHolding(what, c.DeviceAddress, end, WindowUse.Carveouts);
            foreach (Used u in used)
                if (u.IsFixedCarveout && Overlap(c.DeviceAddress, end, u.Start, u.End))
                    throw new ResourceTableException($"{what} [0x{c.DeviceAddress:x}, 0x{end:x}) overlaps {u.What} [0x{u.Start:x}, 0x{u.End:x})");
            used.Add(new Used(c.DeviceAddress, end, what, true));
            placed.Add(new ResourcePlacement(PlacementKind.CarveoutFixed, c.Index, what, c.DeviceAddress, c.Length, w, w.PhysicalOf(c.DeviceAddress)));
        }

        // 2. Vrings the firmware fixed: inside a vring window, clear of the table, reservations and each other (a
        // fixed carveout may hold them: firmware often declares the memory its rings live in).
        // N counts vdevs in table order, as Linux's rvdev->index does in the carveout names vdev{N}vring{M}.
        var vrings = table.Vdevs.SelectMany((v, n) => Enumerable.Range(0, v.QueueCount).Select(q => (Vdev: v, Ring: v.Vring(q), Name: CarveoutNames.Vring(n, q)))).ToArray();
        foreach (var (vdev, r, _) in vrings)
        {
            if (r.DeviceAddress == AddressAny) continue;
            string what = Vring(vdev, r);
            ulong size = VringLayout.LegacySize((int)r.QueueSize, r.Align);
            ulong end = Extent(what, r.DeviceAddress, size);
            AllocationWindow w = WindowHolding(what, r.DeviceAddress, end, WindowUse.Vrings);
            foreach (Used u in used)
                if (!u.IsFixedCarveout && Overlap(r.DeviceAddress, end, u.Start, u.End))
                    throw new ResourceTableException($"{what} [0x{r.DeviceAddress:x}, 0x{end:x}) overlaps {u.What} [0x{u.Start:x}, 0x{u.End:x})");
            used.Add(new Used(r.DeviceAddress, end, what, false));
            placed.Add(new ResourcePlacement(PlacementKind.VringFixed, vdev.Index, what, r.DeviceAddress, size, w, Vring: r.Index));
        }

        // 3. Carveouts left to the host, page-aligned, clear of everything above.
        foreach (CarveoutResource c in table.Carveouts)
        {
            if (c.Type != ResourceType.Carveout || c.DeviceAddress != AddressAny) continue;
            string what = Carveout(c);
            if (c.Length == 0) throw new ResourceTableException($"{what}: length 0 cannot be allocated");
            var (w, da) = Place(used, what, c.Length, CarveoutAlignment, WindowUse.Carveouts);
            used.Add(new Used(da, da + c.Length, what, false));
            placed.Add(new ResourcePlacement(PlacementKind.CarveoutAllocated, c.Index, what, da, c.Length, w, w.PhysicalOf(da)));
        }

        // 4. Vrings left to the host: vring_size(num, align) bytes on an align boundary.
        foreach (var (vdev, r, named) in vrings)
        {
            if (r.DeviceAddress != AddressAny) continue;
            string what = Vring(vdev, r);
            ulong size = VringLayout.LegacySize((int)r.QueueSize, r.Align);
            var (w, da) = Place(used, what, size, Math.Max(r.Align, MinimumVringAlignment), WindowUse.Vrings, named);
            used.Add(new Used(da, da + size, what, false));
            placed.Add(new ResourcePlacement(PlacementKind.VringAllocated, vdev.Index, what, da, size, w, Vring: r.Index));
        }

        // 5. Devmem: reported, never written.
        foreach (CarveoutResource d in table.Carveouts)
            if (d.Type == ResourceType.DevMem)
                placed.Add(new ResourcePlacement(PlacementKind.DevMemNotMapped, d.Index, $"devmem {d.Index} '{d.Name}'", d.DeviceAddress, d.Length, null, d.PhysicalAddress));

        IReadOnlyList<NotifyIdAssignment> ids = AssignNotifyIds(table, notifyIds);

        // Everything checked: now, and only now, the table changes.
        foreach (ResourcePlacement p in placed)
        {
            ulong off = table.EntryOffset(p.EntryIndex);
            switch (p.Kind)
            {
                case PlacementKind.CarveoutAllocated or PlacementKind.CarveoutFixed:
                    // As rproc_alloc_registered_carveouts: da and pa go back (pa cast to 32 bits, as Linux casts it).
                    table.Window.WriteU32(off + CarveoutDa, (uint)p.DeviceAddress);
                    table.Window.WriteU32(off + CarveoutPa, (uint)p.PhysicalAddress!.Value);
                    break;
                case PlacementKind.VringAllocated:
                    VdevResource vdev = table.Vdevs.First(v => v.Index == p.EntryIndex);
                    vdev.SetVringAddress(p.Vring!.Value, (uint)p.DeviceAddress);
                    break;
            }
        }
        foreach (NotifyIdAssignment a in ids)
        {
            ulong off = table.EntryOffset(a.EntryIndex);
            table.Window.WriteU32(a.Vring is int q ? off + VdevVrings + (ulong)q * VringSize + VringNotifyId : off + VdevNotifyId, a.NotifyId);
        }

        _used.Clear();
        _used.AddRange(used);
        _applied = true;
        return new ResourceTableAllocation(placed, ids);
    }

    /// <summary>
    /// Takes <paramref name="size"/> bytes aligned to <paramref name="alignment"/> (a power of two) from a window that
    /// may hold <paramref name="use"/>, clear of everything placed or reserved: the host's own buffers.
    /// </summary>
    /// <exception cref="ResourceTableException">No window has room; the message says which were tried.</exception>
    public ResourcePlacement Allocate(string name, ulong size, ulong alignment, WindowUse use)
    {
        if (size == 0) throw new ArgumentOutOfRangeException(nameof(size), $"'{name}' must not be empty");
        if (alignment == 0 || (alignment & (alignment - 1)) != 0) throw new ArgumentOutOfRangeException(nameof(alignment), $"alignment {alignment} of '{name}' is not a power of two");
        var (w, da) = Place(_used, name, size, alignment, use);
        _used.Add(new Used(da, da + size, name, false));
        return new ResourcePlacement(PlacementKind.Buffer, -1, name, da, size, w);
    }

    private IReadOnlyList<NotifyIdAssignment> AssignNotifyIds(ResourceTable table, NotifyIdPolicy policy)
    {
        var result = new List<NotifyIdAssignment>();
        if (policy == NotifyIdPolicy.Linux)
        {
            // rproc_alloc_vring: idr_alloc(&rproc->notifyids, rvring, 0, 0) per vring, in table order, from an empty idr.
            uint next = 0;
            foreach (VdevResource v in table.Vdevs)
                for (int q = 0; q < v.QueueCount; q++)
                    result.Add(new NotifyIdAssignment(v.Index, q, v.Vring(q).NotifyId, next++));
            return result;
        }
        var holders = new Dictionary<uint, string>();
        var wanting = new List<(VdevResource Vdev, int? Ring)>();
        foreach (VdevResource v in table.Vdevs)
        {
            Claim(v.NotifyId, $"vdev {v.Index} (id {v.DeviceId})", v, null);
            for (int q = 0; q < v.QueueCount; q++) Claim(v.Vring(q).NotifyId, Vring(v, v.Vring(q)), v, q);
        }
        uint candidate = 0;
        foreach (var (v, q) in wanting)
        {
            while (holders.ContainsKey(candidate)) candidate++;
            holders.Add(candidate, "");
            result.Add(new NotifyIdAssignment(v.Index, q, AddressAny, candidate));
        }
        return result;

        void Claim(uint id, string who, VdevResource v, int? q)
        {
            if (id == AddressAny) { wanting.Add((v, q)); return; }
            if (!holders.TryAdd(id, who))
                throw new ResourceTableException($"{who}: notify id {id} is also {holders[id]}'s; kicks could not be told apart (firmware written for a Linux host wants NotifyIdPolicy.Linux)");
        }
    }

    private (AllocationWindow Window, ulong DeviceAddress) Place(List<Used> used, string what, ulong size, ulong alignment, WindowUse use, string? preferred = null)
    {
        // The window named for this block first (where it fits), then every window in order.
        foreach (AllocationWindow w in _windows.Where(w => preferred is not null && w.Name == preferred).Concat(_windows))
        {
            if ((w.Uses & use) == 0) continue;
            ulong limit = Math.Min(w.End, AddressLimit);
            ulong at = AlignUp(w.Start, alignment);
            // First fit: step past every taken range that the candidate block would touch.
            while (at >= w.Start && at < limit && size <= limit - at)
            {
                ulong end = at + size;
                Used? clash = null;
                foreach (Used u in used)
                    if (Overlap(at, end, u.Start, u.End) && (clash is null || u.End > clash.Value.End)) clash = u;
                if (clash is null) return (w, at);
                ulong next = AlignUp(clash.Value.End, alignment);
                if (next <= at) break; // wrapped
                at = next;
            }
        }
        string candidates = string.Join(", ", _windows.Where(w => (w.Uses & use) != 0));
        throw new ResourceTableException($"{what}: no room for 0x{size:x} bytes aligned to 0x{alignment:x} below 4 GiB in the windows for {use.ToString().ToLowerInvariant()} ({(candidates.Length > 0 ? candidates : "none")})");
    }

    private AllocationWindow WindowHolding(string what, ulong start, ulong end, WindowUse use) =>
        _windows.FirstOrDefault(w => (w.Uses & use) != 0 && start >= w.Start && end <= w.End)
        ?? throw new ResourceTableException($"{what} [0x{start:x}, 0x{end:x}) does not lie wholly inside a window for {use.ToString().ToLowerInvariant()} ({string.Join(", ", _windows.Where(w => (w.Uses & use) != 0).DefaultIfEmpty())})");

    private static ulong Extent(string what, ulong start, ulong length)
    {
        if (length == 0) throw new ResourceTableException($"{what} at 0x{start:x}: length 0");
        if (length > AddressLimit - start)
            throw new ResourceTableException($"{what} at 0x{start:x} of 0x{length:x} bytes runs past 4 GiB, which a 32-bit device address cannot reach");
        return start + length;
    }

    private static string Carveout(CarveoutResource c) => $"carveout {c.Index} '{c.Name}'";

    private static string Vring(VdevResource v, VringResource r) => $"vdev {v.Index} (id {v.DeviceId}) vring {r.Index}";

    private static bool Overlap(ulong a, ulong b, ulong c, ulong d) => a < d && c < b;

    private static ulong AlignUp(ulong v, ulong align) => v > ulong.MaxValue - (align - 1) ? ulong.MaxValue & ~(align - 1) : (v + align - 1) & ~(align - 1);
}

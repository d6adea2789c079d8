using static AmpCan.Remoteproc.Boards.SizeNotation;

namespace AmpCan.Remoteproc.Boards;

/// <summary>
/// A core's memory regions: each one's name, size, backing and roles; aliases; no two overlapping in the remote's
/// address space or in Linux's (an alias excepted); the shared-memory window being one of them; the resource table's
/// place. Errors name the field as the file spells it (<c>regions[2].size</c>).
/// </summary>
internal static class RegionValidator
{
    /// <summary>Most regions one core has (a device tree's memory-region lists a handful).</summary>
    public const int MaxRegions = 32;

    // The roles a resource table addresses with its 32-bit da (fw_rsc_carveout.da, fw_rsc_vdev_vring.da, fw_rsc_trace.da).
    private static readonly RegionRole[] TableAddressed = [RegionRole.Vrings, RegionRole.Buffers, RegionRole.ResourceTable, RegionRole.Trace, RegionRole.Carveout];

    /// <summary>Throws through <paramref name="fail"/> at the first region, alias, overlap or table place that is wrong.</summary>
    public static void Validate(BoardDescriptor b, Action<string, string> fail)
    {
        if (b.Regions is { } regions)
        {
            if (regions.Count == 0) fail("regions", "must list at least one region (leave it out to use sharedMemory alone)");
            if (regions.Count > MaxRegions) fail("regions", $"{regions.Count} regions; at most {MaxRegions}");
            for (int i = 0; i < regions.Count; i++) Region(regions[i], $"regions[{i}]", fail);
            BoardNames.Unique([.. regions.Select(r => r.Name)], "regions", "region", fail);
            for (int i = 0; i < regions.Count; i++) Alias(regions, i, fail);
            Overlaps(regions, fail);
            WindowIsARegion(b.SharedMemory, regions, fail);
        }
        TablePlace(b.ResourceTable, b.EffectiveRegions, fail);
    }

    private static void Region(RegionSpec r, string at, Action<string, string> fail)
    {
        BoardNames.Check(r.Name, $"{at}.name", fail);
        if (r.Size == 0) fail($"{at}.size", "must not be 0");
        if (r.Size > ulong.MaxValue - r.DeviceAddress)
            fail($"{at}.size", $"'{r.Name}' {Range(r.DeviceAddress, r.Size)} wraps past the end of the device address space");
        if (r.Size > ulong.MaxValue - r.PhysicalAddress)
            fail($"{at}.size", $"'{r.Name}' {Range(r.PhysicalAddress, r.Size)} wraps past the end of the physical address space");
        if (r.Roles.Count == 0) fail($"{at}.roles", $"'{r.Name}' must have at least one role (firmware, vrings, buffers, resource-table, trace, carveout)");
        if (r.Roles.GroupBy(x => x).FirstOrDefault(g => g.Count() > 1) is { } twice)
            fail($"{at}.roles", $"'{r.Name}' lists {Kebab(twice.Key)} twice; roles are a set");
        if (TableAddressed.Where(r.Has).Cast<RegionRole?>().FirstOrDefault() is RegionRole role &&
            (r.DeviceAddress >= SharedMemorySpec.DeviceAddressLimit || r.Size > SharedMemorySpec.DeviceAddressLimit - r.DeviceAddress))
            fail($"{at}.size", $"'{r.Name}' {Range(r.DeviceAddress, r.Size)} ends above 4 GiB in the remote's address space; a resource table's " +
                $"device addresses are 32-bit, so a region for {Kebab(role)} must end at or below 0x100000000");
        RegionBackingSpec k = r.Backing;
        if (k.Kind == SharedMemoryKind.File && string.IsNullOrEmpty(k.Path)) fail($"{at}.backing.path", "is required for kind 'file'");
        if (k.Kind != SharedMemoryKind.File && k.Path is not null) fail($"{at}.backing.path", $"is for kind 'file'; this backing is '{Kebab(k.Kind)}'");
        if (k.UioDevice < 0) fail($"{at}.backing.uioDevice", $"{k.UioDevice} must not be negative");
        if (k.UioMap is < 0 or >= SharedMemorySpec.UioMaps) fail($"{at}.backing.uioMap", $"{k.UioMap} must be 0 to {SharedMemorySpec.UioMaps - 1}");
        CacheRules(r, at, fail);
    }

    private static void Alias(IReadOnlyList<RegionSpec> regions, int i, Action<string, string> fail)
    {
        RegionSpec r = regions[i];
        if (r.AliasOf is not string name) return;
        string at = $"regions[{i}].aliasOf";
        if (name == r.Name) fail(at, $"'{r.Name}' cannot be an alias of itself");
        RegionSpec target = regions.FirstOrDefault(x => x.Name == name)
            ?? throw Failed(fail, at, $"names '{name}', which is not a region of this core (regions: {string.Join(", ", regions.Select(x => x.Name))})");
        if (target.AliasOf is not null) fail(at, $"'{name}' is itself an alias (of '{target.AliasOf}'); name the region it aliases");
        if (target.Size != r.Size)
            fail(at, $"'{r.Name}' is {Bytes(r.Size)} but '{name}' is {Bytes(target.Size)}; an alias is the same memory, so the same size");
        if (target.DeviceAddress == r.DeviceAddress && target.PhysicalAddress == r.PhysicalAddress)
            fail(at, $"'{r.Name}' has the device and physical addresses of '{name}'; that is the same region twice, not an alias");
    }

    // Each address space on its own: the remote's (device addresses) and Linux's (physical, where the backing has one).
    private static void Overlaps(IReadOnlyList<RegionSpec> regions, Action<string, string> fail)
    {
        for (int j = 1; j < regions.Count; j++)
            for (int i = 0; i < j; i++)
            {
                RegionSpec a = regions[i], b = regions[j];
                if (Aliased(a, b)) continue;
                if (Overlap(a.DeviceAddress, a.Size, b.DeviceAddress, b.Size))
                    fail($"regions[{j}].deviceAddress", $"'{b.Name}' {Range(b.DeviceAddress, b.Size)} overlaps '{a.Name}' {Range(a.DeviceAddress, a.Size)} " +
                        "in the remote's address space (mark one \"aliasOf\" the other if they are the same memory)");
                if (a.IsPhysical && b.IsPhysical && Overlap(a.PhysicalAddress, a.Size, b.PhysicalAddress, b.Size))
                    fail($"regions[{j}].physicalAddress", $"'{b.Name}' {Range(b.PhysicalAddress, b.Size)} overlaps '{a.Name}' {Range(a.PhysicalAddress, a.Size)} " +
                        "in the physical address space (mark one \"aliasOf\" the other if they are the same memory)");
            }
    }

    private static bool Aliased(RegionSpec a, RegionSpec b) =>
        a.AliasOf == b.Name || b.AliasOf == a.Name || (a.AliasOf is not null && a.AliasOf == b.AliasOf);

    /// <summary>Whether [a, a + aSize) and [b, b + bSize) share a byte (sizes already checked not to wrap).</summary>
    internal static bool Overlap(ulong a, ulong aSize, ulong b, ulong bSize) => a < b + bSize && b < a + aSize;

    // The runtime maps sharedMemory as its IPC window today; with regions it must be one of them, or the two would disagree.
    private static void WindowIsARegion(SharedMemorySpec m, IReadOnlyList<RegionSpec> regions, Action<string, string> fail)
    {
        RegionSpec r = regions.FirstOrDefault(x => x.DeviceAddress == m.DeviceAddress && x.Size == m.Size)
            ?? throw Failed(fail, "sharedMemory", $"{Range(m.DeviceAddress, m.Size)} is not one of the regions (the host's runtime maps it as its IPC window; " +
                "give it the device address and size of the region it is)");
        string why = $"differs from region '{r.Name}' it stands for";
        if (r.Backing.Kind != m.Kind) fail("sharedMemory.kind", $"'{Kebab(m.Kind)}' {why} (backing '{Kebab(r.Backing.Kind)}')");
        if (m.Kind == SharedMemoryKind.DevMem && r.PhysicalAddress != m.PhysicalAddress)
            fail("sharedMemory.physicalAddress", $"0x{m.PhysicalAddress:x} {why} (0x{r.PhysicalAddress:x})");
        if (m.Kind == SharedMemoryKind.File && r.Backing.Path != m.Path) fail("sharedMemory.path", $"'{m.Path}' {why} ('{r.Backing.Path}')");
        if (m.Kind == SharedMemoryKind.Uio && (r.Backing.UioDevice, r.Backing.UioMap) != (m.UioDevice, m.UioMap))
            fail("sharedMemory.uioMap", $"uio{m.UioDevice} map {m.UioMap} {why} (uio{r.Backing.UioDevice} map {r.Backing.UioMap})");
    }

    private static void TablePlace(ResourceTableSpec t, IReadOnlyList<RegionSpec> regions, Action<string, string> fail)
    {
        if (t.Region is not null && t.InImage) fail("resourceTable.region", "and inImage exclude each other: the table is at an offset in a region, or where the image puts it");
        if (t.InImage)
        {
            if (t.Offset != 0) fail("resourceTable.offset", "must be 0 with inImage (the image's .resource_table section gives the place)");
            if (!regions.Any(r => r.Has(RegionRole.ResourceTable)))
                fail("resourceTable.inImage", "needs a region with the resource-table role to hold the image's .resource_table section");
        }
        if (t.Region is not string name) return;
        RegionSpec region = regions.FirstOrDefault(r => r.Name == name)
            ?? throw Failed(fail, "resourceTable.region", $"names '{name}', which is not a region of this core");
        if (!region.Has(RegionRole.ResourceTable)) fail("resourceTable.region", $"'{name}' does not have the resource-table role");
        if (t.Offset > region.Size || t.Size > region.Size - t.Offset)
            fail("resourceTable", $"{Range(t.Offset, t.Size)} is not inside the {Bytes(region.Size)} of region '{name}'");
    }

    /// <summary>Calls <paramref name="fail"/> (which throws); the return value lets a caller write <c>?? throw Failed(...)</c>.</summary>
    internal static Exception Failed(Action<string, string> fail, string field, string why)
    {
        fail(field, why);
        return new InvalidOperationException("the fail action returned instead of throwing");
    }

    // AmpCan does no cache maintenance, so memory the remote reaches around the host's caches is mapped uncached, or
    // cacheable only when the hardware keeps it coherent.
    private static void CacheRules(RegionSpec r, string at, Action<string, string> fail)
    {
        if (r.Cache == RegionCache.NonCoherent)
            fail($"{at}.cache", $"'{r.Name}' is 'non-coherent': mapped cacheable, the remote would not see the host's writes nor the host the remote's until " +
                "the lines were cleaned and invalidated around every ring and buffer access, which AmpCan does not do; map it 'uncached' (the default), " +
                "or 'coherent' if the interconnect keeps the remote's accesses coherent with the host's caches");
        if (r.Cache != RegionCache.Uncached && r.AliasOf is not null)
            fail($"{at}.cache", $"'{r.Name}' is an alias, a view of '{r.AliasOf}''s mapping; give the cache on '{r.AliasOf}'");
        if (r.Cache == RegionCache.Coherent && r.Backing.Kind != SharedMemoryKind.DevMem)
            fail($"{at}.cache", $"'coherent' is for dev-mem regions; '{r.Name}' is '{Kebab(r.Backing.Kind)}'" + (r.Backing.Kind == SharedMemoryKind.Uio
                ? ", whose memory type the kernel's UIO driver chooses (uio_pdrv_genirq maps it uncached)" : ", which is cacheable, coherent memory already"));
    }

    /// <summary>An enum value as board files spell it.</summary>
    internal static string Kebab<T>(T value) where T : struct, Enum =>
        System.Text.Json.JsonNamingPolicy.KebabCaseLower.ConvertName(value.ToString());
}

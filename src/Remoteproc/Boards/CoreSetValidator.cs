using static AmpCan.Remoteproc.Boards.SizeNotation;

namespace AmpCan.Remoteproc.Boards;

/// <summary>
/// The cores of one board together: no two use the same physical memory, unless both regions are marked
/// <c>"shared": true</c> and cover exactly the same range (memory the cores share on purpose). Each core's device
/// addresses are its own, so only the physical address space (dev-mem and uio backing) is compared.
/// </summary>
internal static class CoreSetValidator
{
    /// <summary>Throws through <paramref name="fail"/> at the first region of a core that overlaps another core's.</summary>
    public static void Validate(IReadOnlyList<BoardDescriptor> cores, Action<string, string> fail)
    {
        for (int j = 1; j < cores.Count; j++)
            for (int i = 0; i < j; i++)
                Apart(cores[i], cores[j], j, fail);
    }

    private static void Apart(BoardDescriptor first, BoardDescriptor second, int index, Action<string, string> fail)
    {
        IReadOnlyList<RegionSpec> theirs = first.EffectiveRegions, ours = second.EffectiveRegions;
        for (int k = 0; k < ours.Count; k++)
        {
            RegionSpec b = ours[k];
            if (!b.IsPhysical) continue;
            foreach (RegionSpec a in theirs)
            {
                if (!a.IsPhysical || !RegionValidator.Overlap(a.PhysicalAddress, a.Size, b.PhysicalAddress, b.Size)) continue;
                if (a.Shared && b.Shared && a.PhysicalAddress == b.PhysicalAddress && a.Size == b.Size) continue;
                string field = second.Regions is null ? $"cores[{index}].sharedMemory.physicalAddress" : $"cores[{index}].regions[{k}].physicalAddress";
                fail(field, $"'{b.Name}' {Range(b.PhysicalAddress, b.Size)} overlaps region '{a.Name}' {Range(a.PhysicalAddress, a.Size)} of core " +
                    $"'{first.Name}'; two cores may use the same memory only when both regions say \"shared\": true and cover the same range");
            }
        }
    }
}

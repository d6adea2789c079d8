using AmpCan.SharedMem;
using AmpCan.VhostUser.Wire;
using Microsoft.Win32.SafeHandles;

namespace AmpCan.VhostUser;

/// <summary>
/// The front end's memory as one SET_MEM_TABLE described it: each region mapped once from the descriptor sent with it,
/// and seen through two bounds-checked maps, by guest-physical address (what descriptors name) and by front-end
/// virtual address (what SET_VRING_ADDR names). Nothing outside the table's regions is reachable through either.
/// </summary>
internal sealed class GuestMemoryTable : IDisposable
{
    private readonly MappedRegion[] _regions;

    private GuestMemoryTable(MappedRegion[] regions, MemoryMap guestPhysical, MemoryMap frontEndVirtual)
    {
        _regions = regions;
        GuestPhysical = guestPhysical;
        FrontEndVirtual = frontEndVirtual;
    }

    /// <summary>The regions by guest-physical address.</summary>
    public MemoryMap GuestPhysical { get; }

    /// <summary>The same regions by the front end's virtual address.</summary>
    public MemoryMap FrontEndVirtual { get; }

    /// <summary>The mappings, in table order.</summary>
    public IReadOnlyList<MappedRegion> Regions => _regions;

    /// <summary>
    /// Checks the table and maps it. Takes over <paramref name="fds"/> (one per region, in order): each is mapped or
    /// closed, whatever happens. Throws <see cref="VhostUserProtocolException"/> naming the region at fault.
    /// </summary>
    public static GuestMemoryTable Map(ReadOnlySpan<MemoryRegionDescription> table, IReadOnlyList<SafeFileHandle> fds, bool requireShrinkSealed, string owner)
    {
        var mapped = new List<MappedRegion>(table.Length);
        int next = 0; // the first descriptor not yet handed to a mapping
        try
        {
            if (table.Length is 0 or > MemoryTableDescription.MaxRegions)
                throw new VhostUserProtocolException($"SET_MEM_TABLE with {table.Length} regions (1 to {MemoryTableDescription.MaxRegions} allowed)");
            if (fds.Count != table.Length)
                throw new VhostUserProtocolException($"SET_MEM_TABLE with {table.Length} regions but {fds.Count} file descriptors");
            for (int i = 0; i < table.Length; i++) Check(table, i);
            var guest = new MemoryMap();
            var user = new MemoryMap();
            for (; next < table.Length;)
            {
                MemoryRegionDescription r = table[next];
                SafeFileHandle fd = fds[next++];
                int number = (int)fd.DangerousGetHandle();
                fd.SetHandleAsInvalid(); // the mapping owns the descriptor from here, and closes it if it refuses it
                MappedRegion region;
                try
                {
                    region = MappedRegion.MapReceived(number, r.MmapOffset, r.Size, r.GuestAddress, $"{owner} region {next - 1}", requireShrinkSealed);
                }
                catch (SharedMemoryException e)
                {
                    throw new VhostUserProtocolException($"SET_MEM_TABLE region {next - 1}: {e.Message}");
                }
                mapped.Add(region);
                guest.Add(region.Io);
                user.Add(region.ViewAt(r.UserAddress));
            }
            return new GuestMemoryTable([.. mapped], guest, user);
        }
        catch
        {
            foreach (MappedRegion m in mapped) m.Dispose();
            for (int i = next; i < fds.Count; i++) fds[i].Dispose();
            throw;
        }
    }

    // Checked before anything is mapped: a table that cannot be right costs no mmap.
    private static void Check(ReadOnlySpan<MemoryRegionDescription> table, int i)
    {
        MemoryRegionDescription r = table[i];
        if (r.Size == 0) throw new VhostUserProtocolException($"SET_MEM_TABLE region {i} is empty");
        if (r.GuestAddress > ulong.MaxValue - (r.Size - 1) || r.UserAddress > ulong.MaxValue - (r.Size - 1) || r.MmapOffset > long.MaxValue - r.Size)
            throw new VhostUserProtocolException($"SET_MEM_TABLE region {i} (guest 0x{r.GuestAddress:x}, user 0x{r.UserAddress:x}, offset 0x{r.MmapOffset:x}, 0x{r.Size:x} bytes) wraps past the end of the address space");
        for (int j = 0; j < i; j++)
        {
            MemoryRegionDescription o = table[j];
            if (Overlap(r.GuestAddress, o.GuestAddress, r.Size, o.Size))
                throw new VhostUserProtocolException($"SET_MEM_TABLE regions {j} and {i} overlap in guest-physical addresses (0x{o.GuestAddress:x}+0x{o.Size:x}, 0x{r.GuestAddress:x}+0x{r.Size:x})");
            if (Overlap(r.UserAddress, o.UserAddress, r.Size, o.Size))
                throw new VhostUserProtocolException($"SET_MEM_TABLE regions {j} and {i} overlap in front-end addresses (0x{o.UserAddress:x}+0x{o.Size:x}, 0x{r.UserAddress:x}+0x{r.Size:x})");
        }
    }

    private static bool Overlap(ulong a, ulong b, ulong aSize, ulong bSize) => a <= b + (bSize - 1) && b <= a + (aSize - 1);

    /// <summary>Detaches every region from the front end's memory (views still held read private zeroes) and closes the descriptors.</summary>
    public void Dispose()
    {
        foreach (MappedRegion r in _regions) r.Dispose();
    }
}

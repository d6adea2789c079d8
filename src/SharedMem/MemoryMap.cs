using System.Runtime.CompilerServices;

namespace AmpCan.SharedMem;

/// <summary>
/// The remote's view of memory: device-address ranges backed by mapped windows. Translation refuses any range that
/// is not wholly inside one window, so a peer-supplied address can never reach memory outside the carveouts.
/// </summary>
/// <remarks>Lookups are lock-free; adding a window publishes a new immutable array.</remarks>
public sealed class MemoryMap
{
    private IoRegion[] _regions = [];
    private readonly Lock _gate = new();

    /// <summary>Creates a map over the given windows.</summary>
    public MemoryMap(params IEnumerable<IoRegion> regions)
    {
        foreach (IoRegion r in regions) Add(r);
    }

    /// <summary>The windows, in ascending device-address order.</summary>
    public IReadOnlyList<IoRegion> Regions => Volatile.Read(ref _regions);

    /// <summary>Adds a window; refuses one whose device-address range overlaps another's or wraps past 2^64.</summary>
    public void Add(IoRegion region)
    {
        ArgumentNullException.ThrowIfNull(region);
        if (region.Length == 0) throw new ArgumentException($"window '{region.Name}' is empty", nameof(region));
        ulong end = region.DeviceAddress + region.Length - 1;
        if (end < region.DeviceAddress)
            throw new ArgumentException($"window '{region.Name}' at 0x{region.DeviceAddress:x} (0x{region.Length:x} bytes) wraps past the end of the address space", nameof(region));
        lock (_gate)
        {
            foreach (IoRegion r in _regions)
            {
                ulong rEnd = r.DeviceAddress + r.Length - 1;
                if (region.DeviceAddress <= rEnd && r.DeviceAddress <= end)
                    throw new ArgumentException($"window '{region.Name}' [0x{region.DeviceAddress:x}..0x{end:x}] overlaps '{r.Name}' [0x{r.DeviceAddress:x}..0x{rEnd:x}]", nameof(region));
            }
            IoRegion[] next = [.. _regions, region];
            Array.Sort(next, (a, b) => a.DeviceAddress.CompareTo(b.DeviceAddress));
            Volatile.Write(ref _regions, next);
        }
    }

    /// <summary>Removes a window (for example a carveout released on remote shutdown).</summary>
    public bool Remove(IoRegion region)
    {
        lock (_gate)
        {
            if (Array.IndexOf(_regions, region) < 0) return false;
            Volatile.Write(ref _regions, _regions.Where(r => r != region).ToArray());
            return true;
        }
    }

    /// <summary>
    /// Finds the window holding all of [<paramref name="deviceAddress"/>, +<paramref name="length"/>) and the offset in it.
    /// A zero-length range must still start inside a window.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryTranslate(ulong deviceAddress, ulong length, out IoRegion region, out ulong offset)
    {
        foreach (IoRegion r in Volatile.Read(ref _regions))
        {
            ulong off = deviceAddress - r.DeviceAddress; // wraps to a huge value when below the window
            if (off < r.Length && length <= r.Length - off)
            {
                region = r;
                offset = off;
                return true;
            }
        }
        region = null!;
        offset = 0;
        return false;
    }

    /// <summary>Like <see cref="TryTranslate"/>, but throws an error naming the range when it is not mapped.</summary>
    public (IoRegion Region, ulong Offset) Translate(ulong deviceAddress, ulong length)
    {
        if (TryTranslate(deviceAddress, length, out IoRegion r, out ulong off)) return (r, off);
        throw new SharedMemoryBoundsException($"device range 0x{deviceAddress:x}+0x{length:x} is not inside any mapped window");
    }

    /// <summary>A window over exactly the given device range.</summary>
    public IoRegion Window(ulong deviceAddress, ulong length)
    {
        var (r, off) = Translate(deviceAddress, length);
        return r.Slice(off, length);
    }
}

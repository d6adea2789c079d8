namespace AmpCan.SharedMem;

/// <summary>A block handed out by a <see cref="CarveoutAllocator"/>.</summary>
/// <param name="Name">What the block is for (for errors and listings).</param>
/// <param name="Offset">Offset of the block in the allocator's window.</param>
/// <param name="Window">The block as a bounds-checked view.</param>
public sealed record Carveout(string Name, ulong Offset, IoRegion Window)
{
    /// <summary>The remote's address of the block's first byte.</summary>
    public ulong DeviceAddress => Window.DeviceAddress;

    /// <summary>Size of the block in bytes.</summary>
    public ulong Size => Window.Length;
}

/// <summary>
/// First-fit allocator of aligned blocks inside one shared window (vrings, buffer pools, trace buffers).
/// Alignment is of the device address, which is what the remote and the ring layout care about.
/// </summary>
public sealed class CarveoutAllocator
{
    private readonly IoRegion _window;
    private readonly List<(ulong Offset, ulong Size)> _free = []; // sorted, coalesced
    private readonly Dictionary<ulong, Carveout> _used = [];
    private readonly Lock _gate = new();

    /// <summary>Creates an allocator over the whole of <paramref name="window"/>.</summary>
    public CarveoutAllocator(IoRegion window)
    {
        _window = window;
        _free.Add((0, window.Length));
    }

    /// <summary>Bytes not handed out.</summary>
    public ulong FreeBytes { get { lock (_gate) return _free.Aggregate(0UL, (s, f) => s + f.Size); } }

    /// <summary>Blocks handed out, in offset order.</summary>
    public IReadOnlyList<Carveout> Allocated { get { lock (_gate) return [.. _used.Values.OrderBy(c => c.Offset)]; } }

    /// <summary>Allocates <paramref name="size"/> bytes whose device address is a multiple of <paramref name="alignment"/> (a power of two).</summary>
    public Carveout Allocate(string name, ulong size, ulong alignment = 8)
    {
        if (size == 0) throw new ArgumentOutOfRangeException(nameof(size), $"carveout '{name}' must not be empty");
        if (alignment == 0 || (alignment & (alignment - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(alignment), $"alignment {alignment} of carveout '{name}' is not a power of two");
        lock (_gate)
        {
            ulong largest = 0;
            for (int i = 0; i < _free.Count; i++)
            {
                var (off, len) = _free[i];
                largest = Math.Max(largest, len);
                ulong da = _window.DeviceAddress + off;
                ulong pad = ((da + alignment - 1) & ~(alignment - 1)) - da;
                if (pad > len || size > len - pad) continue;
                _free.RemoveAt(i);
                if (len - pad - size > 0) _free.Insert(i, (off + pad + size, len - pad - size));
                if (pad > 0) _free.Insert(i, (off, pad));
                var c = new Carveout(name, off + pad, _window.Slice(off + pad, size));
                _used.Add(c.Offset, c);
                return c;
            }
            throw new SharedMemoryException(
                $"carveout '{name}' of {size} bytes (alignment {alignment}) does not fit in '{_window.Name}': largest free block is {largest} bytes");
        }
    }

    /// <summary>Returns a block; it is an error to free one this allocator did not hand out, or to free it twice.</summary>
    public void Free(Carveout block)
    {
        lock (_gate)
        {
            // Check before removing: freeing a copy or a stranger must leave the real block allocated and freeable.
            if (!_used.TryGetValue(block.Offset, out Carveout? known) || !ReferenceEquals(known, block))
                throw new InvalidOperationException($"carveout '{block.Name}' at offset 0x{block.Offset:x} was not allocated here or was already freed");
            _used.Remove(block.Offset);
            ulong off = block.Offset, len = block.Size;
            int i = 0;
            while (i < _free.Count && _free[i].Offset < off) i++;
            _free.Insert(i, (off, len));
            if (i + 1 < _free.Count && _free[i].Offset + _free[i].Size == _free[i + 1].Offset)
            {
                _free[i] = (_free[i].Offset, _free[i].Size + _free[i + 1].Size);
                _free.RemoveAt(i + 1);
            }
            if (i > 0 && _free[i - 1].Offset + _free[i - 1].Size == _free[i].Offset)
            {
                _free[i - 1] = (_free[i - 1].Offset, _free[i - 1].Size + _free[i].Size);
                _free.RemoveAt(i);
            }
        }
    }
}

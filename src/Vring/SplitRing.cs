using AmpCan.SharedMem;
using AmpCan.Vring.Wire;

namespace AmpCan.Vring;

/// <summary>
/// The memory of one split virtqueue: descriptor table, available ring and used ring as bounds-checked windows.
/// Either one legacy area (<c>vring_init</c> layout) or three separately placed areas (modern transports).
/// </summary>
public sealed class SplitRing
{
    private SplitRing(int queueSize, IoRegion descriptors, IoRegion available, IoRegion used)
    {
        QueueSize = queueSize;
        Descriptors = descriptors;
        Available = available;
        Used = used;
    }

    /// <summary>Number of descriptors.</summary>
    public int QueueSize { get; }

    /// <summary>The descriptor table (16 bytes per entry).</summary>
    public IoRegion Descriptors { get; }

    /// <summary>The available ring, with <c>used_event</c> at its end.</summary>
    public IoRegion Available { get; }

    /// <summary>The used ring, with <c>avail_event</c> at its end.</summary>
    public IoRegion Used { get; }

    /// <summary>Lays the ring out in <paramref name="area"/> as <c>vring_init(num, align)</c> does.</summary>
    public static SplitRing Legacy(IoRegion area, int queueSize, ulong align)
    {
        VringLayout l = VringLayout.Legacy(queueSize, align);
        // vring_init aligns the used ring's address, not its offset: the two agree only on an aligned ring.
        if (area.DeviceAddress % align != 0)
            throw new ArgumentException($"vring at 0x{area.DeviceAddress:x} is not aligned to its {align}-byte alignment; the peer would place the used ring elsewhere", nameof(area));
        if (area.Length < l.TotalSize)
            throw new ArgumentException($"vring of {queueSize} entries (align {align}) needs {l.TotalSize} bytes; '{area.Name}' window at 0x{area.DeviceAddress:x} has {area.Length}", nameof(area));
        return new SplitRing(queueSize,
            area.Slice(l.DescriptorOffset, SplitRingOffsets.DescriptorTableSize(queueSize)),
            area.Slice(l.AvailOffset, SplitRingOffsets.AvailSize(queueSize)),
            area.Slice(l.UsedOffset, SplitRingOffsets.UsedSize(queueSize)));
    }

    /// <summary>The legacy ring whose first byte is at device address <paramref name="deviceAddress"/>.</summary>
    public static SplitRing Legacy(MemoryMap memory, ulong deviceAddress, int queueSize, ulong align)
    {
        ulong size = VringLayout.LegacySize(queueSize, align);
        if (!memory.TryTranslate(deviceAddress, size, out IoRegion r, out ulong off))
            throw new ArgumentException($"vring at 0x{deviceAddress:x} ({size} bytes for {queueSize} entries, align {align}) is not inside a mapped window");
        return Legacy(r.Slice(off, size), queueSize, align);
    }

    /// <summary>A ring whose three areas are placed separately (virtio 1.x queue_desc/queue_driver/queue_device).</summary>
    public static SplitRing Separate(MemoryMap memory, int queueSize, ulong descriptorAddress, ulong availAddress, ulong usedAddress)
    {
        VringLayout.ValidateQueueSize(queueSize);
        if (descriptorAddress % 16 != 0) throw new ArgumentException($"descriptor table at 0x{descriptorAddress:x} is not 16-byte aligned");
        if (availAddress % 2 != 0) throw new ArgumentException($"available ring at 0x{availAddress:x} is not 2-byte aligned");
        if (usedAddress % 4 != 0) throw new ArgumentException($"used ring at 0x{usedAddress:x} is not 4-byte aligned");
        return new SplitRing(queueSize,
            Area(memory, "descriptor table", descriptorAddress, SplitRingOffsets.DescriptorTableSize(queueSize)),
            Area(memory, "available ring", availAddress, SplitRingOffsets.AvailSize(queueSize)),
            Area(memory, "used ring", usedAddress, SplitRingOffsets.UsedSize(queueSize)));
    }

    private static IoRegion Area(MemoryMap memory, string what, ulong address, ulong size)
    {
        if (!memory.TryTranslate(address, size, out IoRegion r, out ulong off))
            throw new ArgumentException($"{what} at 0x{address:x} ({size} bytes) is not inside a mapped window");
        return r.Slice(off, size);
    }

    /// <summary>Zeroes all three areas (the driver does this before the device may look at them).</summary>
    public void Clear()
    {
        Descriptors.Clear(0, Descriptors.Length);
        Available.Clear(0, Available.Length);
        Used.Clear(0, Used.Length);
    }

    /// <summary>
    /// The event-index test of virtio (vring_need_event): true when <paramref name="newIndex"/> has moved past
    /// <paramref name="eventIndex"/> since <paramref name="oldIndex"/>.
    /// </summary>
    public static bool NeedsEvent(ushort eventIndex, ushort newIndex, ushort oldIndex) =>
        (ushort)(newIndex - eventIndex - 1) < (ushort)(newIndex - oldIndex);
}

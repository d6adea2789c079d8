using AmpCan.SharedMem;
using AmpCan.Vring.Wire;

namespace AmpCan.Vring;

/// <summary>Where a device-side queue stands: what it pops next and what it fills next (saved for re-attach and recovery).</summary>
/// <param name="NextAvail">Free-running index of the next available entry to pop.</param>
/// <param name="NextUsed">Free-running index of the next used entry to fill.</param>
public readonly record struct DeviceQueueState(ushort NextAvail, ushort NextUsed);

/// <summary>
/// The device side of a split virtqueue: pops chains the driver made available, validating every index, flag,
/// address and length the driver wrote, and returns them through the used ring.
/// </summary>
/// <remarks>
/// One thread owns an instance. Any protocol violation throws <see cref="VirtqueueException"/> and leaves the queue
/// broken (every later call throws the same error) until the owner resets it; no access ever leaves the memory map.
/// </remarks>
public sealed class SplitVirtqueueDevice : IVirtqueueNotifications
{
    private readonly SplitRing _ring;
    private readonly MemoryMap _memory;
    private readonly int _size;
    private readonly int _mask;
    private readonly ulong _usedEventOffset;
    private readonly ulong _availEventOffset;
    private readonly BufferSegment[] _scratch;
    private readonly bool[] _inFlight;
    private ushort _nextAvail;
    private ushort _cachedAvailIndex;
    private ushort _nextUsed;
    private ushort _publishedUsed;
    private readonly QueueFault _fault = new();
    private readonly byte[] _spacer; // allocated last: keeps the next object off this queue's cache lines

    /// <summary>
    /// Creates the device side over <paramref name="ring"/>. Buffers are resolved through <paramref name="memory"/>.
    /// Without <paramref name="state"/> the queue starts where the used ring says (so it attaches to a live ring).
    /// </summary>
    public SplitVirtqueueDevice(SplitRing ring, MemoryMap memory, bool eventIndex, bool indirectDescriptors, DeviceQueueState? state = null)
    {
        _ring = ring;
        _memory = memory;
        _size = ring.QueueSize;
        _mask = _size - 1;
        EventIndex = eventIndex;
        IndirectDescriptors = indirectDescriptors;
        _usedEventOffset = SplitRingOffsets.UsedEvent(_size);
        _availEventOffset = SplitRingOffsets.AvailEvent(_size);
        _scratch = new BufferSegment[_size];
        _inFlight = new bool[_size];
        DeviceQueueState s = state ?? CurrentRingState(ring);
        _nextAvail = _cachedAvailIndex = s.NextAvail;
        _nextUsed = _publishedUsed = s.NextUsed;
        _spacer = CacheLineSpacer.Allocate();
    }

    /// <summary>The state a fresh device side would resume from: both indices at the used ring's index.</summary>
    public static DeviceQueueState CurrentRingState(SplitRing ring)
    {
        ushort used = ring.Used.ReadU16Acquire(SplitRingOffsets.Index);
        return new DeviceQueueState(used, used);
    }

    /// <summary>The ring this queue works on.</summary>
    public SplitRing Ring => _ring;

    /// <summary>True when VIRTIO_RING_F_EVENT_IDX was negotiated.</summary>
    public bool EventIndex { get; }

    /// <summary>True when VIRTIO_RING_F_INDIRECT_DESC was negotiated.</summary>
    public bool IndirectDescriptors { get; }

    /// <summary>Where this queue stands now.</summary>
    public DeviceQueueState State => new(_nextAvail, _nextUsed);

    /// <summary>The violation that stopped this queue, or null.</summary>
    public VirtqueueException? Fault => _fault.First;

    /// <summary>True when the driver has made chains available that were not popped yet (reads the ring).</summary>
    public bool HasAvailable
    {
        get
        {
            _fault.ThrowIfBroken();
            return _nextAvail != _cachedAvailIndex || _ring.Available.ReadU16Acquire(SplitRingOffsets.Index) != _nextAvail;
        }
    }

    /// <summary>Pops the next available chain; false when the driver has made none available.</summary>
    /// <exception cref="VirtqueueException">The driver broke the protocol; the queue is now broken.</exception>
    public bool TryPop(out DescriptorChain chain)
    {
        _fault.ThrowIfBroken();
        if (_nextAvail == _cachedAvailIndex)
        {
            ushort idx = _ring.Available.ReadU16Acquire(SplitRingOffsets.Index);
            if (idx == _nextAvail)
            {
                chain = default;
                return false;
            }
            if ((ushort)(idx - _nextAvail) > _size)
                _fault.Break(VirtqueueError.AvailIndexOutOfRange, $"available index {idx} is {(ushort)(idx - _nextAvail)} ahead of {_nextAvail}, more than the queue size {_size}");
            _cachedAvailIndex = idx;
        }
        ushort head = _ring.Available.ReadU16(SplitRingOffsets.AvailEntry(_nextAvail & _mask));
        if (head >= _size) _fault.Break(VirtqueueError.DescriptorIndexOutOfRange, $"available entry {_nextAvail} names head {head}, beyond the queue size {_size}");
        if (_inFlight[head]) _fault.Break(VirtqueueError.HeadAlreadyInFlight, $"head {head} was made available again before it was used");
        chain = Walk(head);
        _inFlight[head] = true;
        _nextAvail++;
        return true;
    }

    private DescriptorChain Walk(ushort head)
    {
        int count = 0, readable = 0;
        ulong readBytes = 0, writeBytes = 0;
        bool seenWritable = false;
        IoRegion table = _ring.Descriptors;
        ulong tableStart = 0; // an indirect table is read in place in its region (a slice would allocate per chain)
        int tableSize = _size;
        bool inIndirect = false;
        ushort index = head;
        int steps = 0;
        while (true)
        {
            if (++steps > tableSize)
                _fault.Break(VirtqueueError.DescriptorChainTooLong, $"chain at head {head} has more than {tableSize} descriptors{(inIndirect ? " in its indirect table" : "")} (a loop?)");
            VirtqDescriptor d = table.Read<VirtqDescriptor>(tableStart + (ulong)index * VirtqDescriptor.Size);
            VirtqDescFlags flags = d.Flags;
            if ((flags & VirtqDescFlags.Indirect) != 0)
            {
                if (inIndirect) _fault.Break(VirtqueueError.NestedIndirectTable, $"chain at head {head}: indirect table contains an indirect descriptor");
                if (!IndirectDescriptors) _fault.Break(VirtqueueError.IndirectNotNegotiated, $"chain at head {head}: indirect descriptor without VIRTIO_RING_F_INDIRECT_DESC");
                if ((flags & VirtqDescFlags.Next) != 0) _fault.Break(VirtqueueError.IndirectWithNext, $"chain at head {head}: descriptor {index} has both INDIRECT and NEXT");
                uint len = d.Length;
                if (len == 0 || len % VirtqDescriptor.Size != 0 || len / VirtqDescriptor.Size > (uint)_size)
                    _fault.Break(VirtqueueError.InvalidIndirectTable, $"chain at head {head}: indirect table of {len} bytes (must be a non-zero multiple of 16, at most {_size} entries)");
                if (d.Address > ulong.MaxValue - len)
                    _fault.Break(VirtqueueError.LengthOverflow, $"chain at head {head}: indirect table at 0x{d.Address:x}+{len} wraps");
                if (!_memory.TryTranslate(d.Address, len, out IoRegion r, out ulong off))
                    _fault.Break(VirtqueueError.AddressOutOfMap, $"chain at head {head}: indirect table 0x{d.Address:x}+{len} is outside the memory map");
                table = r;
                tableStart = off;
                tableSize = (int)(len / VirtqDescriptor.Size);
                inIndirect = true;
                index = 0;
                steps = 0;
                continue;
            }

            bool writable = (flags & VirtqDescFlags.Write) != 0;
            if (!writable && seenWritable)
                _fault.Break(VirtqueueError.ReadableAfterWritable, $"chain at head {head}: readable descriptor {index} after a writable one");
            ulong addr = d.Address;
            uint length = d.Length;
            if (addr > ulong.MaxValue - length)
                _fault.Break(VirtqueueError.LengthOverflow, $"chain at head {head}: buffer 0x{addr:x}+{length} wraps");
            // A span covers at most 2^31 - 1 bytes; no real vring buffer comes near, and refusing here keeps every
            // segment viewable instead of failing later, outside this validation, with an untyped overflow.
            if (length > int.MaxValue)
                _fault.Break(VirtqueueError.LengthOverflow, $"chain at head {head}: buffer 0x{addr:x} of {length} bytes is 2 GiB or more");
            if (!_memory.TryTranslate(addr, length, out IoRegion region, out ulong offset))
                _fault.Break(VirtqueueError.AddressOutOfMap, $"chain at head {head}: buffer 0x{addr:x}+{length} is outside the memory map");
            if (count == _size)
                _fault.Break(VirtqueueError.DescriptorChainTooLong, $"chain at head {head} has more than {_size} buffers");
            if (writable)
            {
                seenWritable = true;
                writeBytes += length;
            }
            else
            {
                readable++;
                readBytes += length;
            }
            if (readBytes + writeBytes > uint.MaxValue)
                _fault.Break(VirtqueueError.LengthOverflow, $"chain at head {head} totals {readBytes + writeBytes} bytes, beyond 2^32 - 1");
            _scratch[count++] = new BufferSegment(region, offset, length, addr, writable);

            if ((flags & VirtqDescFlags.Next) == 0) break;
            index = d.Next;
            if (index >= tableSize)
                _fault.Break(VirtqueueError.DescriptorIndexOutOfRange, $"chain at head {head}: next index {index} is beyond the {(inIndirect ? "indirect table" : "queue")} size {tableSize}");
        }
        return new DescriptorChain(head, _scratch, count, readable, readBytes, writeBytes);
    }

    /// <summary>
    /// Returns a popped chain to the driver with the number of bytes written into it. Staged until
    /// <see cref="PublishUsed"/>.
    /// </summary>
    public void AddUsed(ushort head, uint writtenLength)
    {
        _fault.ThrowIfBroken();
        if (head >= _size || !_inFlight[head])
            throw new InvalidOperationException($"head {head} is not a chain this queue popped and has not returned");
        _inFlight[head] = false;
        _ring.Used.Write(SplitRingOffsets.UsedEntry(_nextUsed & _mask), new VirtqUsedElement(head, writtenLength));
        _nextUsed++;
    }

    /// <summary>
    /// Publishes staged used entries and reports whether the driver asked to be notified (EVENT_IDX or
    /// NO_INTERRUPT). Remembers what it published, so each call only reports new entries.
    /// </summary>
    public bool PublishUsed()
    {
        _fault.ThrowIfBroken();
        ushort old = _publishedUsed, now = _nextUsed;
        if (old == now) return false;
        _ring.Used.WriteU16Release(SplitRingOffsets.Index, now);
        _publishedUsed = now;
        _ring.Used.Fence();
        if (EventIndex)
            return SplitRing.NeedsEvent(_ring.Available.ReadU16(_usedEventOffset), now, old);
        return (_ring.Available.ReadU16(SplitRingOffsets.Flags) & (ushort)VirtqAvailFlags.NoInterrupt) == 0;
    }

    /// <summary>
    /// Asks the driver to kick on its next available buffer; returns true if chains are already available (then
    /// process them rather than wait).
    /// </summary>
    public bool EnableNotifications()
    {
        _fault.ThrowIfBroken();
        if (EventIndex) _ring.Used.WriteU16(_availEventOffset, _nextAvail);
        else _ring.Used.WriteU16(SplitRingOffsets.Flags, 0);
        _ring.Used.Fence();
        return _ring.Available.ReadU16Acquire(SplitRingOffsets.Index) != _nextAvail;
    }

    /// <summary>Tells the driver kicks are not needed (NO_NOTIFY; with EVENT_IDX the stale event index already does that).</summary>
    public void DisableNotifications()
    {
        _fault.ThrowIfBroken();
        if (!EventIndex) _ring.Used.WriteU16(SplitRingOffsets.Flags, (ushort)VirtqUsedFlags.NoNotify);
    }


}

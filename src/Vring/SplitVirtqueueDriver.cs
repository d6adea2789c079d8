using AmpCan.SharedMem;
using AmpCan.Vring.Wire;

namespace AmpCan.Vring;

/// <summary>A buffer the driver offers: device address and length.</summary>
/// <param name="Address">Device address of the first byte.</param>
/// <param name="Length">Length in bytes.</param>
public readonly record struct VirtqBuffer(ulong Address, uint Length);

/// <summary>A chain the device gave back.</summary>
/// <param name="Token">The caller's token given when the chain was added.</param>
/// <param name="Head">Head descriptor index of the chain.</param>
/// <param name="Length">Bytes the device wrote, clamped to the chain's writable size.</param>
public readonly record struct UsedBuffer(int Token, ushort Head, uint Length);

/// <summary>
/// The driver side of a split virtqueue, as Linux <c>virtio_ring.c</c>: adds chains of device-readable and
/// device-writable buffers, decides whether to kick, collects used chains and turns callbacks on and off.
/// </summary>
/// <remarks>
/// One thread owns an instance. Bookkeeping (free list, chain lengths, tokens) lives in private arrays, never read
/// back from shared memory. A used element that names anything but an outstanding chain throws
/// <see cref="VirtqueueException"/> and breaks the queue.
/// </remarks>
public sealed partial class SplitVirtqueueDriver : IVirtqueueNotifications
{
    private const byte HeadFree = 0, HeadStaged = 1, HeadOutstanding = 2, HeadCandidate = 3;

    private readonly SplitRing _ring;
    private readonly int _size;
    private readonly int _mask;
    private readonly ulong _usedEventOffset;
    private readonly ulong _availEventOffset;
    private readonly ushort[] _nextFree;     // free-list links, and chain links for descriptors in use
    private readonly int[] _tokens;
    private readonly ushort[] _chainLength;  // descriptors taken from the table by the chain at this head
    private readonly uint[] _writableBytes;
    private readonly byte[] _headState;
    private readonly ushort[] _availShadow;  // heads we put in the available ring, never read back from shared memory
    private readonly VirtqDescriptor[] _descShadow; // what we last wrote into each descriptor
    private int _freeHead;
    private int _freeCount;
    private int _outstanding;
    private ushort _availIndex;      // next slot to fill
    private ushort _publishedAvail;  // what the device can see
    private ushort _kickedAvail;     // available index at the last kick decision
    private int _addedSinceKick;     // chains added since the last kick decision (may exceed 16 bits)
    private ushort _lastUsed;
    private ushort _cachedUsedIndex;
    private bool _callbacksDisabled;
    private IoRegion? _indirectTables;
    private int _indirectEntries;
    private readonly QueueFault _fault = new();
    private byte[]? _spacer; // allocated last: keeps the next object off this queue's cache lines

    /// <summary>
    /// Creates the driver side over <paramref name="ring"/>. With <paramref name="clearRing"/> the ring is zeroed
    /// (a fresh queue); otherwise the queue attaches to the ring as it is, treating the chains between the used and
    /// available indices as outstanding with their head as token.
    /// </summary>
    public SplitVirtqueueDriver(SplitRing ring, bool eventIndex, bool clearRing = true) : this(ring, eventIndex)
    {
        if (clearRing) ring.Clear();
        Attach();
        _spacer = CacheLineSpacer.Allocate();
    }

    private SplitVirtqueueDriver(SplitRing ring, bool eventIndex)
    {
        _ring = ring;
        _size = ring.QueueSize;
        _mask = _size - 1;
        EventIndex = eventIndex;
        _usedEventOffset = SplitRingOffsets.UsedEvent(_size);
        _availEventOffset = SplitRingOffsets.AvailEvent(_size);
        _nextFree = new ushort[_size];
        _tokens = new int[_size];
        _chainLength = new ushort[_size];
        _writableBytes = new uint[_size];
        _headState = new byte[_size];
        _availShadow = new ushort[_size];
        _descShadow = new VirtqDescriptor[_size];
    }

    /// <summary>The ring this queue works on.</summary>
    public SplitRing Ring => _ring;

    /// <summary>True when VIRTIO_RING_F_EVENT_IDX was negotiated.</summary>
    public bool EventIndex { get; }

    /// <summary>Descriptors not in use.</summary>
    public int FreeDescriptors => _freeCount;

    /// <summary>Chains added and not yet returned by the device.</summary>
    public int Outstanding => _outstanding;

    /// <summary>The violation that stopped this queue, or null.</summary>
    public VirtqueueException? Fault => _fault.First;

    /// <summary>
    /// Lets chains of several buffers travel as one indirect descriptor (VIRTIO_RING_F_INDIRECT_DESC). Each head gets
    /// its own table of <paramref name="entriesPerChain"/> descriptors in <paramref name="tables"/>.
    /// </summary>
    public void UseIndirectTables(IoRegion tables, int entriesPerChain)
    {
        if (entriesPerChain < 2 || entriesPerChain > _size)
            throw new ArgumentOutOfRangeException(nameof(entriesPerChain), $"indirect tables need 2 to {_size} entries per chain");
        ulong need = (ulong)_size * (ulong)entriesPerChain * VirtqDescriptor.Size;
        if (tables.Length < need) throw new ArgumentException($"indirect tables need {need} bytes; '{tables.Name}' window has {tables.Length}", nameof(tables));
        if (tables.DeviceAddress % 16 != 0) throw new ArgumentException("indirect tables must be 16-byte aligned", nameof(tables));
        _indirectTables = tables;
        _indirectEntries = entriesPerChain;
        // Chains found outstanding on attach that went through a table: sum their writable bytes from it now.
        for (int head = 0; head < _size; head++)
        {
            if (_headState[head] != HeadOutstanding || _writableBytes[head] != UnknownWritable) continue;
            VirtqDescriptor d = _descShadow[head];
            if ((d.Flags & VirtqDescFlags.Indirect) == 0 || d.Address < tables.DeviceAddress || d.Length % VirtqDescriptor.Size != 0) continue;
            ulong offset = d.Address - tables.DeviceAddress;
            if (offset > tables.Length || d.Length > tables.Length - offset) continue;
            ulong writable = 0;
            for (ulong e = 0; e < d.Length; e += VirtqDescriptor.Size)
            {
                VirtqDescriptor entry = tables.Read<VirtqDescriptor>(offset + e);
                if ((entry.Flags & VirtqDescFlags.Write) != 0) writable += entry.Length;
            }
            _writableBytes[head] = (uint)Math.Min(writable, UnknownWritable - 1);
        }
    }

    // A chain re-attached through an indirect table whose writable size is not known (yet): its used length is passed
    // through as the device wrote it, for the owner to bound by its own buffer.
    private const uint UnknownWritable = uint.MaxValue;

    private void Attach()
    {
        for (int i = 0; i < _size; i++) _descShadow[i] = _ring.Descriptors.Read<VirtqDescriptor>((ulong)i * VirtqDescriptor.Size);
        ushort avail = _ring.Available.ReadU16Acquire(SplitRingOffsets.Index);
        ushort used = _ring.Used.ReadU16Acquire(SplitRingOffsets.Index);
        int pending = (ushort)(avail - used);
        if (pending > _size)
            throw new VirtqueueException(VirtqueueError.UsedIndexOutOfRange, $"cannot attach: used index {used} is {pending} behind available index {avail}, more than the queue size {_size}");
        var inUse = new bool[_size];
        for (int i = 0; i < pending; i++)
        {
            ushort head = _ring.Available.ReadU16(SplitRingOffsets.AvailEntry((used + i) & _mask));
            if (head >= _size || _headState[head] != HeadFree)
                throw new VirtqueueException(VirtqueueError.DescriptorIndexOutOfRange, $"cannot attach: available entry {(ushort)(used + i)} names head {head}, which is out of range or repeated");
            ushort n = 0;
            uint writable = 0;
            ushort d = head;
            while (true)
            {
                if (inUse[d] || ++n > _size)
                    throw new VirtqueueException(VirtqueueError.DescriptorChainTooLong, $"cannot attach: chain at head {head} loops or shares descriptors");
                inUse[d] = true;
                VirtqDescriptor desc = _ring.Descriptors.Read<VirtqDescriptor>((ulong)d * VirtqDescriptor.Size);
                if ((desc.Flags & VirtqDescFlags.Indirect) != 0) writable = UnknownWritable; // its table is read once the tables are known
                else if ((desc.Flags & VirtqDescFlags.Write) != 0 && writable != UnknownWritable)
                    writable = (uint)Math.Min((ulong)writable + desc.Length, UnknownWritable - 1);
                if ((desc.Flags & VirtqDescFlags.Next) == 0) break;
                _nextFree[d] = desc.Next;
                d = desc.Next;
                if (d >= _size) throw new VirtqueueException(VirtqueueError.DescriptorIndexOutOfRange, $"cannot attach: chain at head {head} links to {d}");
            }
            _headState[head] = HeadOutstanding;
            _tokens[head] = head;
            _chainLength[head] = n;
            _writableBytes[head] = writable;
        }
        _outstanding = pending;
        _freeCount = 0;
        _freeHead = -1;
        for (int i = _size - 1; i >= 0; i--)
        {
            if (inUse[i]) continue;
            _nextFree[i] = (ushort)(_freeHead < 0 ? 0 : _freeHead);
            _freeHead = i;
            _freeCount++;
        }
        _availIndex = _publishedAvail = _kickedAvail = avail;
        _lastUsed = _cachedUsedIndex = used;
    }

    /// <summary>Adds one buffer as a chain of its own; false when no descriptor is free.</summary>
    public bool TryAdd(VirtqBuffer buffer, bool deviceWritable, int token)
    {
        _fault.ThrowIfBroken();
        if (_freeCount == 0) return false;
        ushort head = TakeDescriptor();
        WriteDescriptor(head, new VirtqDescriptor(buffer.Address, buffer.Length, deviceWritable ? VirtqDescFlags.Write : VirtqDescFlags.None, 0));
        Stage(head, 1, deviceWritable ? buffer.Length : 0, token);
        return true;
    }

    /// <summary>
    /// Adds a chain of device-readable then device-writable buffers; false when there are not enough free
    /// descriptors. Uses an indirect table when one is set up and the chain fits it.
    /// </summary>
    public bool TryAdd(ReadOnlySpan<VirtqBuffer> readable, ReadOnlySpan<VirtqBuffer> writable, int token)
    {
        _fault.ThrowIfBroken();
        int total = readable.Length + writable.Length;
        if (total == 0) throw new ArgumentException("a chain needs at least one buffer");
        if (total > _size) throw new ArgumentException($"a chain of {total} buffers is longer than the queue ({_size})");
        uint writableBytes = 0;
        foreach (VirtqBuffer b in writable) writableBytes = checked(writableBytes + b.Length);

        if (_indirectTables is not null && total > 1 && total <= _indirectEntries)
        {
            if (_freeCount == 0) return false;
            ushort head = TakeDescriptor();
            ulong tableOffset = (ulong)head * (ulong)_indirectEntries * VirtqDescriptor.Size;
            for (int i = 0; i < total; i++)
            {
                bool w = i >= readable.Length;
                VirtqBuffer b = w ? writable[i - readable.Length] : readable[i];
                var flags = (w ? VirtqDescFlags.Write : 0) | (i + 1 < total ? VirtqDescFlags.Next : 0);
                _indirectTables.Write(tableOffset + (ulong)i * VirtqDescriptor.Size, new VirtqDescriptor(b.Address, b.Length, flags, (ushort)(i + 1 < total ? i + 1 : 0)));
            }
            WriteDescriptor(head, new VirtqDescriptor(_indirectTables.DeviceAddress + tableOffset, (uint)(total * VirtqDescriptor.Size), VirtqDescFlags.Indirect, 0));
            Stage(head, 1, writableBytes, token);
            return true;
        }

        if (_freeCount < total) return false;
        ushort first = TakeDescriptor();
        ushort current = first;
        for (int i = 0; i < total; i++)
        {
            bool w = i >= readable.Length;
            VirtqBuffer b = w ? writable[i - readable.Length] : readable[i];
            bool last = i + 1 == total;
            ushort next = last ? (ushort)0 : TakeDescriptor();
            if (!last) _nextFree[current] = next; // remember the link privately for freeing
            var flags = (w ? VirtqDescFlags.Write : 0) | (last ? 0 : VirtqDescFlags.Next);
            WriteDescriptor(current, new VirtqDescriptor(b.Address, b.Length, flags, next));
            current = next;
        }
        Stage(first, (ushort)total, writableBytes, token);
        return true;
    }

    // Recycled buffers usually land in the descriptor that described them last time (the free list is LIFO). Leaving
    // an unchanged descriptor alone keeps its cache line shared with the device instead of bouncing it every time.
    private void WriteDescriptor(ushort index, in VirtqDescriptor d)
    {
        ref VirtqDescriptor last = ref _descShadow[index];
        if (last.Address == d.Address && last.Length == d.Length && last.Flags == d.Flags && last.Next == d.Next) return;
        last = d;
        _ring.Descriptors.Write((ulong)index * VirtqDescriptor.Size, d);
    }

    private ushort TakeDescriptor()
    {
        ushort d = (ushort)_freeHead;
        _freeHead = _nextFree[d];
        _freeCount--;
        return d;
    }

    private void Stage(ushort head, ushort descriptors, uint writableBytes, int token)
    {
        _tokens[head] = token;
        _chainLength[head] = descriptors;
        _writableBytes[head] = writableBytes;
        _headState[head] = HeadStaged;
        _availShadow[_availIndex & _mask] = head;
        _ring.Available.WriteU16(SplitRingOffsets.AvailEntry(_availIndex & _mask), head);
        _availIndex++;
        _addedSinceKick++;
    }

    /// <summary>Makes every added chain visible to the device (release store of the available index).</summary>
    public void Publish()
    {
        _fault.ThrowIfBroken();
        for (ushort i = _publishedAvail; i != _availIndex; i++)
            _headState[_availShadow[i & _mask]] = HeadOutstanding;
        _outstanding += (ushort)(_availIndex - _publishedAvail);
        _ring.Available.WriteU16Release(SplitRingOffsets.Index, _availIndex);
        _publishedAvail = _availIndex;
    }

    /// <summary>
    /// Publishes added chains and reports whether the device wants a kick for everything made available since the
    /// last call (EVENT_IDX, else its NO_NOTIFY flag), as Linux <c>virtqueue_kick_prepare</c>. Chains published early
    /// with <see cref="Publish"/> (before DRIVER_OK, say) still count. Remembers the index it decided on.
    /// </summary>
    /// <remarks>
    /// After 0xFFFF additions without a decision the 16-bit event-index arithmetic can no longer tell whether the
    /// device's event index was passed, so the answer is yes, as Linux kicks unconditionally at that count.
    /// </remarks>
    public bool KickPrepare()
    {
        Publish();
        ushort old = _kickedAvail, now = _availIndex;
        int added = _addedSinceKick;
        _kickedAvail = now;
        _addedSinceKick = 0;
        if (added == 0) return false;
        _ring.Available.Fence();
        if (added >= ushort.MaxValue) return true;
        if (EventIndex) return SplitRing.NeedsEvent(_ring.Used.ReadU16(_availEventOffset), now, old);
        return (_ring.Used.ReadU16(SplitRingOffsets.Flags) & (ushort)VirtqUsedFlags.NoNotify) == 0;
    }

    /// <summary>True when the device has returned chains not yet collected (reads the ring).</summary>
    public bool HasUsed
    {
        get
        {
            _fault.ThrowIfBroken();
            return _lastUsed != _cachedUsedIndex || _ring.Used.ReadU16Acquire(SplitRingOffsets.Index) != _lastUsed;
        }
    }

    /// <summary>Collects the next chain the device returned; false when there is none.</summary>
    /// <exception cref="VirtqueueException">The device broke the protocol; the queue is now broken.</exception>
    public bool TryGetUsed(out UsedBuffer used)
    {
        _fault.ThrowIfBroken();
        if (_lastUsed == _cachedUsedIndex)
        {
            ushort idx = _ring.Used.ReadU16Acquire(SplitRingOffsets.Index);
            if (idx == _lastUsed)
            {
                used = default;
                return false;
            }
            if ((ushort)(idx - _lastUsed) > _outstanding)
                _fault.Break(VirtqueueError.UsedIndexOutOfRange, $"used index {idx} is {(ushort)(idx - _lastUsed)} ahead of {_lastUsed}, but only {_outstanding} chains are outstanding");
            _cachedUsedIndex = idx;
        }
        VirtqUsedElement e = _ring.Used.Read<VirtqUsedElement>(SplitRingOffsets.UsedEntry(_lastUsed & _mask));
        uint id = e.Id;
        if (id >= (uint)_size) _fault.Break(VirtqueueError.UsedIdOutOfRange, $"used entry {_lastUsed} names id {id}, beyond the queue size {_size}");
        byte state = _headState[id];
        if (state != HeadOutstanding && state != HeadCandidate) _fault.Break(VirtqueueError.UsedIdNotAvailable, $"used entry {_lastUsed} names id {id}, which is not an outstanding chain");
        ushort head = (ushort)id;
        uint len = Math.Min(e.Length, _writableBytes[head]);
        int token = _tokens[head];
        ReleaseChain(head);
        _lastUsed++;
        if (state == HeadCandidate)
        {
            DropStaleCopies(head);
            if (--_owed == 0) Settle();
        }
        if (EventIndex && !_callbacksDisabled)
        {
            // As Linux's virtio_store_mb: the event index must be visible before we next read the used index, or the
            // device could miss it, skip the interrupt, and leave us waiting for a buffer it already returned.
            _ring.Available.WriteU16(_usedEventOffset, _lastUsed);
            _ring.Available.Fence();
        }
        used = new UsedBuffer(token, head, len);
        return true;
    }

    private void ReleaseChain(ushort head)
    {
        _outstanding--;
        FreeChain(head);
    }

    private void FreeChain(ushort head)
    {
        _headState[head] = HeadFree;
        int n = _chainLength[head];
        ushort last = head;
        for (int i = 1; i < n; i++) last = _nextFree[last];
        _nextFree[last] = (ushort)(_freeHead < 0 ? 0 : _freeHead);
        _freeHead = head;
        _freeCount += n;
    }

    bool IVirtqueueNotifications.EnableNotifications() => EnableCallbacks();

    void IVirtqueueNotifications.DisableNotifications() => DisableCallbacks();

    /// <summary>Asks the device not to notify us of used buffers (we are polling).</summary>
    public void DisableCallbacks()
    {
        _fault.ThrowIfBroken();
        if (_callbacksDisabled) return;
        _callbacksDisabled = true;
        // With EVENT_IDX the flags must stay 0; an event index half the ring away is never reached while we poll.
        if (EventIndex) _ring.Available.WriteU16(_usedEventOffset, (ushort)(_lastUsed + 0x8000));
        else _ring.Available.WriteU16(SplitRingOffsets.Flags, (ushort)VirtqAvailFlags.NoInterrupt);
    }

    /// <summary>
    /// Asks the device to notify us of the next used buffer; returns true if some are already waiting (collect them
    /// rather than wait), as Linux <c>virtqueue_enable_cb</c>.
    /// </summary>
    public bool EnableCallbacks()
    {
        _fault.ThrowIfBroken();
        _callbacksDisabled = false;
        if (EventIndex) _ring.Available.WriteU16(_usedEventOffset, _lastUsed);
        else _ring.Available.WriteU16(SplitRingOffsets.Flags, 0);
        _ring.Available.Fence();
        return _ring.Used.ReadU16Acquire(SplitRingOffsets.Index) != _lastUsed;
    }
}

namespace AmpCan.VirtioCan;

/// <summary>
/// The hand-off between senders on any thread and the driver's loop, which alone touches the transmit queue: a free
/// list of transmit slots and the list of slots filled and waiting to go on the ring, both fixed arrays under one
/// short lock (held for a few array stores, never across a system call or a ring operation). Each slot keeps a
/// private copy of its frame, the truth for the echo once the device answers (the request in shared memory is the
/// device's to read, and a device could change it).
/// </summary>
public sealed class VirtioCanTransmitSlots
{
    private readonly Lock _gate = new();
    private readonly int[] _free;
    private readonly int[] _submitted;
    private readonly CanFrame[] _frames;
    private int _freeCount, _submittedCount;

    /// <summary><paramref name="count"/> slots, all free.</summary>
    public VirtioCanTransmitSlots(int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        _free = new int[count];
        _submitted = new int[count];
        _frames = new CanFrame[count];
        for (int i = 0; i < count; i++) _free[i] = count - 1 - i; // slot 0 first
        _freeCount = count;
    }

    /// <summary>Slots in all.</summary>
    public int Count => _free.Length;

    /// <summary>Sender: takes a free slot, which is then the caller's alone until <see cref="Submit"/>; false when none is free.</summary>
    public bool TryTake(out int slot)
    {
        lock (_gate)
        {
            if (_freeCount == 0)
            {
                slot = -1;
                return false;
            }
            slot = _free[--_freeCount];
            return true;
        }
    }

    /// <summary>Sender: hands a filled slot to the loop, with the frame it carries.</summary>
    public void Submit(int slot, in CanFrame frame)
    {
        _frames[slot] = frame; // published to the loop by the lock's release below
        lock (_gate) _submitted[_submittedCount++] = slot;
    }

    /// <summary>Sender: gives back a slot taken but not submitted.</summary>
    public void Return(int slot)
    {
        lock (_gate) _free[_freeCount++] = slot;
    }

    /// <summary>True when slots wait to go on the ring (a racy read, for deciding whether to park).</summary>
    public bool HasSubmitted => Volatile.Read(ref _submittedCount) != 0;

    /// <summary>Loop: takes every submitted slot, in the order they were submitted, into <paramref name="into"/> (room for <see cref="Count"/>); returns how many.</summary>
    public int TakeSubmitted(Span<int> into)
    {
        if (Volatile.Read(ref _submittedCount) == 0) return 0; // the common idle pass takes no lock
        lock (_gate)
        {
            int n = _submittedCount;
            _submitted.AsSpan(0, n).CopyTo(into);
            _submittedCount = 0;
            return n;
        }
    }

    /// <summary>Loop: the frame slot <paramref name="slot"/> carries.</summary>
    public ref readonly CanFrame Frame(int slot) => ref _frames[slot];

    /// <summary>Loop: frees slots the device answered.</summary>
    public void Release(ReadOnlySpan<int> slots)
    {
        lock (_gate)
            foreach (int s in slots) _free[_freeCount++] = s;
    }
}

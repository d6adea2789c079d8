using AmpCan.Vring.Wire;

namespace AmpCan.Vring;

/// <summary>Taking over a queue a previous driver left running (a host that detached, or one that died).</summary>
public sealed partial class SplitVirtqueueDriver
{
    private int _owed;                 // returns the device still owes for chains of a driver that left without a record
    private int[]? _settled;           // tokens of buffers found free once the device paid what it owed
    private int _settledCount, _settledTaken;
    private int _tokenCount;           // the owner's buffers go by tokens 0 to this − 1
    private bool[]? _returnedWhileOwed; // by token: came back while the device still owed, so the owner has it

    /// <summary>
    /// Takes over a ring whose device is still running, never zeroing it: the indices stay where they are. With
    /// <paramref name="saved"/> (the previous driver detached and said where it stopped), exactly its outstanding chains
    /// stay outstanding and the used entries it had not collected are collected next. Without one (it died), or when
    /// the ring moved since, every descriptor <paramref name="owner"/> recognises may still be out: the device owes the
    /// difference of the indices in returns, and once it paid them the rest are free (<see cref="TryTakeSettled"/>);
    /// used entries before the used index are not delivered, since nobody can tell which the dead driver had. Either
    /// way the owner learns which of its <paramref name="tokens"/> buffers (tokens 0 to <paramref name="tokens"/> − 1) are
    /// free through <see cref="TryTakeSettled"/>, at once or once the device paid.
    /// </summary>
    /// <remarks>Chains are single descriptors (rpmsg's). <see cref="AdoptionNote"/> says which way was taken.</remarks>
    /// <exception cref="VirtqueueException">The ring cannot be one this driver's buffers made (indices too far apart,
    /// an available entry naming a descriptor that is not one of ours, more owed than there are buffers).</exception>
    public static SplitVirtqueueDriver Adopt(SplitRing ring, bool eventIndex, DriverQueueSnapshot? saved, DescriptorOwner owner, int tokens)
    {
        ArgumentNullException.ThrowIfNull(ring);
        ArgumentNullException.ThrowIfNull(owner);
        ArgumentOutOfRangeException.ThrowIfNegative(tokens);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(tokens, ring.QueueSize);
        var q = new SplitVirtqueueDriver(ring, eventIndex) { _tokenCount = tokens };
        q.AdoptRing(saved, owner);
        q._spacer = CacheLineSpacer.Allocate();
        return q;
    }

    /// <summary>How <see cref="Adopt"/> took the queue over (for a log line); null for a queue created otherwise.</summary>
    public string? AdoptionNote { get; private set; }

    /// <summary>False while the device still owes returns for chains a driver that left without a record may have had out.</summary>
    public bool AdoptionSettled => _owed == 0;

    /// <summary>
    /// A buffer of the owner's found free by the adoption (the caller gives it back to its pool or reposts it): at once
    /// when the record was exact or nothing was owed, else once the device paid what it owed.
    /// </summary>
    public bool TryTakeSettled(out int token)
    {
        if (_settled is null || _settledTaken == _settledCount)
        {
            token = -1;
            return false;
        }
        token = _settled[_settledTaken++];
        return true;
    }

    /// <summary>Tokens of the chains outstanding now (those a settled adoption still waits for included).</summary>
    public List<int> OutstandingTokens()
    {
        var tokens = new List<int>();
        for (int h = 0; h < _size; h++)
            if (_headState[h] is HeadOutstanding or HeadCandidate) tokens.Add(_tokens[h]);
        return tokens;
    }

    /// <summary>
    /// Where this driver stands, for the next one to take over exactly (<see cref="Adopt"/>); null while an adoption
    /// is not settled or chains are added and not published (those could not be described).
    /// </summary>
    public DriverQueueSnapshot? Snapshot()
    {
        if (_owed != 0 || _availIndex != _publishedAvail) return null;
        var heads = new List<ushort>(_outstanding);
        for (int h = 0; h < _size; h++)
            if (_headState[h] == HeadOutstanding) heads.Add((ushort)h);
        return new DriverQueueSnapshot(_availIndex, _lastUsed, heads);
    }

    private void AdoptRing(DriverQueueSnapshot? saved, DescriptorOwner owner)
    {
        for (int i = 0; i < _size; i++) _descShadow[i] = _ring.Descriptors.Read<VirtqDescriptor>((ulong)i * VirtqDescriptor.Size);
        ushort avail = _ring.Available.ReadU16Acquire(SplitRingOffsets.Index);
        ushort used = _ring.Used.ReadU16Acquire(SplitRingOffsets.Index);
        if ((ushort)(avail - used) > _size)
            throw new VirtqueueException(VirtqueueError.UsedIndexOutOfRange, $"cannot attach: used index {used} is {(ushort)(avail - used)} behind available index {avail}, more than the queue size {_size}");
        string? why = saved is null ? "no record of the driver before" : Exact(saved, avail, used, owner);
        if (why is null)
        {
            AdoptionNote = $"resumed where the driver before left it: available index {avail}, collected up to {saved!.LastUsed}, {saved.OutstandingHeads.Count} chains out";
        }
        else
        {
            Array.Clear(_headState);
            Owed(avail, used, owner);
            AdoptionNote = $"attached at available index {avail}, used index {used} ({why}): {(ushort)(avail - used)} returns owed";
        }
        _freeCount = 0;
        _freeHead = -1;
        for (int i = _size - 1; i >= 0; i--)
        {
            if (_headState[i] != HeadFree) continue;
            _nextFree[i] = (ushort)(_freeHead < 0 ? 0 : _freeHead);
            _freeHead = i;
            _freeCount++;
        }
        _availIndex = _publishedAvail = _kickedAvail = avail;
        _cachedUsedIndex = _lastUsed;
        if (_owed == 0) Settle();
    }

    // The previous driver's record, if it still describes the ring: null when taken, else why not.
    private string? Exact(DriverQueueSnapshot saved, ushort avail, ushort used, DescriptorOwner owner)
    {
        if (saved.AvailIndex != avail) return $"the record's available index {saved.AvailIndex} is not the ring's";
        int owedBefore = (ushort)(avail - saved.LastUsed);
        if (owedBefore != saved.OutstandingHeads.Count || (ushort)(used - saved.LastUsed) > owedBefore)
            return $"the record's {saved.OutstandingHeads.Count} chains out from used index {saved.LastUsed} do not fit the ring's indices";
        foreach (ushort head in saved.OutstandingHeads)
        {
            if (head >= _size || _headState[head] != HeadFree) return $"the record names head {head} twice or beyond the queue";
            int token = Own(head, owner);
            if (token < 0) return $"the record's head {head} does not describe one of our buffers";
            _headState[head] = HeadOutstanding;
        }
        _outstanding = saved.OutstandingHeads.Count;
        _lastUsed = saved.LastUsed;
        _owed = 0;
        return null;
    }

    private void Owed(ushort avail, ushort used, DescriptorOwner owner)
    {
        int candidates = 0;
        Span<bool> token = _size <= 1024 ? stackalloc bool[_size] : new bool[_size];
        for (int h = 0; h < _size; h++)
        {
            int t = Own((ushort)h, owner);
            if (t < 0) continue;
            _headState[h] = HeadCandidate;
            if (!token[t]) candidates++;
            token[t] = true;
        }
        int owed = (ushort)(avail - used);
        for (int i = 0; i < owed; i++)
        {
            ushort head = _ring.Available.ReadU16(SplitRingOffsets.AvailEntry((used + i) & _mask));
            if (head >= _size || _headState[head] != HeadCandidate)
                throw new VirtqueueException(VirtqueueError.DescriptorIndexOutOfRange, $"cannot attach: available entry {(ushort)(used + i)} names head {head}, which does not describe one of our buffers");
        }
        if (owed > candidates)
            throw new VirtqueueException(VirtqueueError.UsedIndexOutOfRange, $"cannot attach: the device owes {owed} returns, but only {candidates} of our buffers are described in the ring");
        _outstanding = owed;
        _owed = owed;
        _lastUsed = used;
        _returnedWhileOwed = new bool[_size];
    }

    // The owner's token for a descriptor, within the queue size; the chain's bookkeeping set from the descriptor.
    private int Own(ushort head, DescriptorOwner owner)
    {
        VirtqDescriptor d = _descShadow[head];
        if ((d.Flags & (VirtqDescFlags.Next | VirtqDescFlags.Indirect)) != 0) return -1;
        int token = owner(head, d);
        if (token < 0 || token >= _tokenCount) return -1;
        _tokens[head] = token;
        _chainLength[head] = 1;
        _writableBytes[head] = (d.Flags & VirtqDescFlags.Write) != 0 ? d.Length : 0;
        return token;
    }

    // A candidate came back: any other descriptor naming the same buffer was a stale copy, never out; free it, or a
    // device returning it later would hand us a buffer twice.
    private void DropStaleCopies(ushort returned)
    {
        int token = _tokens[returned];
        _returnedWhileOwed![token] = true;
        for (int h = 0; h < _size; h++)
            if (h != returned && _headState[h] == HeadCandidate && _tokens[h] == token) FreeChain((ushort)h);
    }

    // The device paid what it owed (or owed nothing): every buffer of the owner's that is not out (from before or
    // re-posted since) and did not come back meanwhile (the owner has those) is free. Candidates left were never out.
    private void Settle()
    {
        _settled ??= new int[_size];
        Span<bool> taken = _size <= 1024 ? stackalloc bool[_size] : new bool[_size];
        for (int h = 0; h < _size; h++)
        {
            if (_headState[h] == HeadCandidate) FreeChain((ushort)h);
            else if (_headState[h] is HeadOutstanding or HeadStaged && (uint)_tokens[h] < (uint)_size) taken[_tokens[h]] = true;
        }
        for (int t = 0; t < _tokenCount; t++)
            if (!taken[t] && _returnedWhileOwed?[t] != true) _settled[_settledCount++] = t;
        _returnedWhileOwed = null;
    }
}

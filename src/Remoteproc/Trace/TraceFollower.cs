namespace AmpCan.Remoteproc.Trace;

/// <summary>
/// Follows one <see cref="TraceBuffer"/>: each <see cref="Poll"/> returns the lines the remote finished since the last
/// one. A trace entry has no write index (include/linux/remoteproc.h, <c>struct fw_rsc_trace</c>: da, len, name), so
/// the follower tells new text from old by comparing each snapshot with the one before.
/// </summary>
/// <remarks>
/// <para>What firmware writes, as read in their sources (not copied): STM32Cube's OpenAMP <c>log_buff</c> (openamp_log.c)
/// writes each character followed by a NUL and restarts at offset 0 when the next would reach the last byte, so the
/// text up to the first NUL is everything since the last restart and the older text after the NUL is hidden. Zephyr's
/// RAM console (drivers/console/ram_console.c), which lib/open-amp/resource_table.c declares as the trace entry
/// "Zephyr_log", writes characters at <c>pos = (pos + 1) % size</c> with no NUL after them (its terminating byte lies
/// just past the entry's length): once it has wrapped, the buffer holds no NUL at all, newest text first and oldest
/// after it. Linux shows both raw (remoteproc_debugfs.c: up to the first NUL).</para>
/// <para>The rules: while the text ends at a NUL it only grows, so bytes past the last poll's end are new if
/// everything before that end is unchanged. Text that got shorter or changed before that end means the writer started
/// over at offset 0: if the old end now holds text (it held the NUL before), the writer filled the rest of the buffer
/// and wrapped (the first convention), so that rest is read first and the text goes on from offset 0; otherwise the
/// remote rebooted or cleared the buffer, and a <see cref="TraceLineKind.Restart"/> comes before the new text. Once the
/// text has no NUL (the second convention, wrapped), the new bytes are those from the last poll's end up to the last
/// byte that differs from the last snapshot, going round the ring.</para>
/// <para>What no reader can tell without an index: bytes a writer rewrites with the same value look unwritten (in a
/// wrapped ring they are handed out when the writer next writes something different after them, so a line can come
/// one poll late); a remote that rebooted and rewrote the same first bytes as before looks as if it only appended;
/// a writer that went round a whole ring between two polls lost text nobody saw; the first poll of a ring that has
/// already wrapped hands it out from offset 0, newest text first, as Linux shows it. A snapshot taken while the remote
/// writes may catch one character half updated.</para>
/// <para>Bounded by construction: two copies of the buffer, one held line of at most
/// <see cref="MaxLineBytes"/>, and at most one buffer's worth of text per poll; nothing the remote writes can make a
/// poll loop longer than that or read outside the buffer. Not thread-safe: one poller.</para>
/// </remarks>
public sealed class TraceFollower
{
    /// <summary>The default cap on one held line (4 KiB): a longer line is handed out in pieces.</summary>
    public const int DefaultMaxLineBytes = 4096;

    private readonly TraceBuffer _buffer;
    private readonly TraceLineSplitter _lines;
    private readonly List<TraceLine> _output = [];
    private byte[] _current;
    private byte[] _previous; // the last snapshot, whole (past its NUL too: whether the old end held the NUL is read from it)
    private int _cursor;      // where the text not yet handed out starts (the buffer's length: at its end, the next byte at 0)
    private bool _ring;       // the last snapshot had no NUL: a wrapped ring whose write position is only known by comparison

    /// <summary>Follows <paramref name="buffer"/> from its start (the first poll returns what is there already).</summary>
    /// <param name="buffer">The trace buffer.</param>
    /// <param name="maxLineBytes">The most bytes of one line held (at most the buffer's length is used).</param>
    public TraceFollower(TraceBuffer buffer, int maxLineBytes = DefaultMaxLineBytes)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLineBytes, 1);
        _buffer = buffer;
        _lines = new TraceLineSplitter(Math.Min(maxLineBytes, buffer.Length));
        _current = new byte[buffer.Length];
        _previous = new byte[buffer.Length];
    }

    /// <summary>The buffer followed.</summary>
    public TraceBuffer Buffer => _buffer;

    /// <summary>The most bytes of one line held before a piece of it is handed out.</summary>
    public int MaxLineBytes => _lines.MaxLineBytes;

    /// <summary>Bytes of an unfinished last line held, waiting for its newline.</summary>
    public int PendingBytes => _lines.Pending;

    /// <summary>Times the writer was seen going from the end of the buffer back to offset 0 and its text was followed across.</summary>
    public long Wraps { get; private set; }

    /// <summary>Times the remote started its text over (reboot, cleared buffer): each a <see cref="TraceLineKind.Restart"/> entry.</summary>
    public long Restarts { get; private set; }

    /// <summary>
    /// Reads the buffer once and returns the lines finished since the last poll, in order. The list is the follower's
    /// own and is reused: read it before the next poll. Side effect: remembers this snapshot for the next poll.
    /// </summary>
    public IReadOnlyList<TraceLine> Poll()
    {
        _output.Clear();
        int length = _buffer.Length;
        int text = _buffer.Snapshot(_current);
        ReadOnlySpan<byte> now = _current, before = _previous;

        if (_ring)
        {
            if (text == length) FollowRing();
            else StartOver(text); // a NUL in a wrapped ring: the remote rebooted or cleared it
        }
        else if (text >= _cursor && now[.._cursor].SequenceEqual(before[.._cursor]))
        {
            Take(_cursor, text);
            _cursor = text;
            _ring = text == length; // full: the writer's next byte goes to offset 0
        }
        else if (text == length)
        {
            // Full, and the start changed: the writer ran past the old end to the end of the buffer and went on at 0.
            FollowRing();
            _ring = true;
        }
        else
        {
            int tail = WrittenPastEnd(now, before, text);
            if (tail < 0) StartOver(text);
            else
            {
                Take(_cursor, _cursor + tail);
                Wraps++;
                Take(0, text);
                _cursor = text;
            }
        }

        (_current, _previous) = (_previous, _current);
        return _output;
    }

    /// <summary>Forgets what was seen: the next poll hands out the whole text again, as a new follower's first would.</summary>
    public void Reset()
    {
        _lines.Discard();
        _output.Clear();
        Array.Clear(_previous);
        _cursor = 0;
        _ring = false;
    }

    // The first convention's wrap, or -1 when the text did not wrap. The old end held the NUL; now it holds text that
    // runs to a NUL past the new text's end: what the writer wrote before going back to 0 (the new text ends before it,
    // so cannot have overwritten it). When the old end was the last byte, which that writer never fills, going back to
    // 0 was its next step: a wrap with nothing written past the end.
    private int WrittenPastEnd(ReadOnlySpan<byte> now, ReadOnlySpan<byte> before, int text)
    {
        if (_cursor >= now.Length || _cursor <= text || before[_cursor] != 0) return -1;
        if (now[_cursor] == 0) return _cursor == now.Length - 1 ? 0 : -1;
        int run = now[_cursor..].IndexOf((byte)0);
        return run < 0 ? now.Length - _cursor : run;
    }

    private void StartOver(int text)
    {
        _lines.Finish(_output);
        _output.Add(new TraceLine("", TraceLineKind.Restart));
        Restarts++;
        Take(0, text);
        _cursor = text;
        _ring = false;
    }

    // The second convention once wrapped: the writer went on from the cursor, round the ring; it got as far as the last
    // byte (in ring order from the cursor) that differs from the last snapshot.
    private void FollowRing()
    {
        ReadOnlySpan<byte> now = _current, before = _previous;
        int length = now.Length, start = _cursor % length;
        if (now.SequenceEqual(before)) return; // the common idle poll: one vectorised compare, nothing else
        // Ring order from start is [start, length) then [0, start): the last difference is the last in [0, start) if any.
        int last = LastDifference(now[..start], before[..start]);
        int end; // exclusive, in ring order: the number of bytes from start
        if (last >= 0) end = length - start + last + 1;
        else end = LastDifference(now[start..], before[start..]) + 1;
        if (end <= 0) return;
        if (start + end <= length) Take(start, start + end);
        else
        {
            Take(start, length);
            Take(0, start + end - length);
        }
        if (start + end > length || _cursor == length) Wraps++; // went past the last byte (or starts past it) to offset 0
        _cursor = (start + end) % length;
    }

    private static int LastDifference(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        for (int i = a.Length - 1; i >= 0; i--)
            if (a[i] != b[i]) return i;
        return -1;
    }

    private void Take(int from, int to)
    {
        if (to > from) _lines.Add(_current.AsSpan(from, to - from), _output);
    }
}

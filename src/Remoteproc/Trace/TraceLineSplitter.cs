using AmpCan.SharedMem.Diagnostics;

namespace AmpCan.Remoteproc.Trace;

/// <summary>
/// Cuts a stream of trace bytes into lines: holds the unfinished last line (up to <see cref="MaxLineBytes"/>, then it is
/// handed out as a <see cref="TraceLineKind.Cut"/> piece), drops the <c>\r</c> of a <c>\r\n</c> ending, and escapes each
/// line once it is whole, so a UTF-8 character split between two polls is decoded whole.
/// </summary>
internal sealed class TraceLineSplitter
{
    private readonly byte[] _pending;
    private int _count;
    private bool _afterCut; // a newline right after a cut piece ends that line rather than making an empty one

    public TraceLineSplitter(int maxLineBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLineBytes, 1);
        _pending = new byte[maxLineBytes];
    }

    /// <summary>The most bytes of one line held before a piece of it is handed out.</summary>
    public int MaxLineBytes => _pending.Length;

    /// <summary>Bytes of an unfinished line held now.</summary>
    public int Pending => _count;

    /// <summary>Adds bytes the remote wrote; each line they finish (and each piece cut off) is appended to <paramref name="output"/>.</summary>
    public void Add(ReadOnlySpan<byte> text, List<TraceLine> output)
    {
        while (!text.IsEmpty)
        {
            int newline = text.IndexOf((byte)'\n');
            Append(newline < 0 ? text : text[..newline], output);
            if (newline < 0) return;
            if (_afterCut) _afterCut = false; // the newline ends the line just cut
            else Emit(TraceLineKind.Line, output);
            text = text[(newline + 1)..];
        }
    }

    /// <summary>Hands out the unfinished line as a line (the remote started over, so nothing will finish it).</summary>
    public void Finish(List<TraceLine> output)
    {
        if (_count > 0) Emit(TraceLineKind.Line, output);
        _afterCut = false;
    }

    /// <summary>Drops the unfinished line.</summary>
    public void Discard()
    {
        _count = 0;
        _afterCut = false;
    }

    private void Append(ReadOnlySpan<byte> part, List<TraceLine> output)
    {
        while (!part.IsEmpty)
        {
            int take = Math.Min(_pending.Length - _count, part.Length);
            part[..take].CopyTo(_pending.AsSpan(_count));
            _count += take;
            _afterCut = false;
            part = part[take..];
            // Cut as soon as the line fills the hold, not when the next byte comes: a line as long as the buffer is
            // all the buffer can show of it, and the remote may never write again.
            if (_count == _pending.Length) Emit(TraceLineKind.Cut, output);
        }
    }

    private void Emit(TraceLineKind kind, List<TraceLine> output)
    {
        ReadOnlySpan<byte> line = _pending.AsSpan(0, _count);
        if (kind == TraceLineKind.Line && line.Length > 0 && line[^1] == (byte)'\r') line = line[..^1];
        output.Add(new TraceLine(line.IsEmpty ? "" : PeerText.Escape(line, int.MaxValue), kind));
        _count = 0;
        _afterCut = kind == TraceLineKind.Cut;
    }
}

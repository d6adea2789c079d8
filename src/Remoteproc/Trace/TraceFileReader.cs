using System.Text;

namespace AmpCan.Remoteproc.Trace;

/// <summary>
/// Reads a trace file as <c>tail -F</c> does: the first <see cref="ReadNew"/> returns what is kept (the rotated
/// <c>.1</c> file, then the current one), each later one the lines appended since. A rotation (<see cref="TraceFile"/>
/// renamed the file to <c>.1</c> and began a new one) is seen by the first line changing: the rest of the old file is
/// read from <c>.1</c>, then the new file from its start. A file made shorter in place is read again from its start.
/// </summary>
/// <remarks>
/// The file is opened at each call and closed again, so a rotation or removal between calls needs no handle kept. Lines
/// come back with control characters shown as escapes (the writer escaped the remote's; this covers a file written by
/// something else), so printing them cannot drive a terminal. Only whole lines are returned; an unfinished one waits,
/// up to <see cref="MaxLineBytes"/>.
/// </remarks>
public sealed class TraceFileReader
{
    /// <summary>The longest line held while waiting for its newline (64 KiB); a longer one is returned in pieces.</summary>
    public const int MaxLineBytes = 1 << 16;

    private const int MaxFirstLineBytes = 4096;
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);
    private readonly List<byte> _partial = [];
    private readonly byte[] _chunk = new byte[1 << 16];
    private string? _firstLine; // identifies the file being read: its header line
    private long _position;
    private bool _started;

    /// <summary>A reader of <paramref name="path"/> (it need not exist yet).</summary>
    public TraceFileReader(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        Path = System.IO.Path.GetFullPath(path);
    }

    /// <summary>The trace file read.</summary>
    public string Path { get; }

    /// <summary>True when the file is there now.</summary>
    public bool Exists => File.Exists(Path);

    /// <summary>
    /// Appends the whole lines written since the last call to <paramref name="lines"/> (everything kept, at the first
    /// call) and returns how many. A file that is not there (yet, or for the instant of a rotation) gives none.
    /// </summary>
    /// <exception cref="IOException">The file is there but cannot be read; the message names it.</exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be read.</exception>
    public int ReadNew(List<string> lines)
    {
        ArgumentNullException.ThrowIfNull(lines);
        int before = lines.Count;
        using FileStream? file = TryOpen(Path);
        if (file is null) return 0;
        string? first = FirstLine(file);
        if (first is null) return 0; // empty, or its header is half written: wait for it
        if (!_started)
        {
            _started = true;
            using FileStream? rotated = TryOpen(TraceFileNames.Rotated(Path));
            if (rotated is not null && FirstLine(rotated) != first) ReadFrom(rotated, 0, lines);
            FinishPartial(lines);
        }
        else if (first != _firstLine)
        {
            // Rotated: what was written to the old file after the last call is now at the same place in the .1 file.
            using FileStream? rotated = TryOpen(TraceFileNames.Rotated(Path));
            if (rotated is not null && FirstLine(rotated) == _firstLine) ReadFrom(rotated, _position, lines);
            FinishPartial(lines);
            _position = 0;
        }
        else if (file.Length < _position)
        {
            FinishPartial(lines);
            _position = 0;
        }
        _firstLine = first;
        _position = ReadFrom(file, _position, lines);
        return lines.Count - before;
    }

    private static FileStream? TryOpen(string path)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 1);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    private static string? FirstLine(FileStream file)
    {
        Span<byte> head = stackalloc byte[MaxFirstLineBytes];
        file.Position = 0;
        int n = file.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        int newline = head[..n].IndexOf((byte)'\n');
        // A file whose first line is longer than the probe (not one of ours) is known by that much of it.
        if (newline < 0) return n == head.Length ? Utf8.GetString(head) : null;
        return Utf8.GetString(head[..newline]);
    }

    // Reads from offset to the current end and splits the bytes into lines; returns the new offset.
    private long ReadFrom(FileStream file, long offset, List<string> lines)
    {
        file.Position = Math.Min(offset, file.Length);
        int n;
        while ((n = file.Read(_chunk)) > 0)
        {
            ReadOnlySpan<byte> data = _chunk.AsSpan(0, n);
            while (!data.IsEmpty)
            {
                int newline = data.IndexOf((byte)'\n');
                ReadOnlySpan<byte> part = newline < 0 ? data : data[..newline];
                while (!part.IsEmpty)
                {
                    if (_partial.Count == MaxLineBytes) EmitPartial(lines);
                    int take = Math.Min(MaxLineBytes - _partial.Count, part.Length);
                    _partial.AddRange(part[..take]);
                    part = part[take..];
                }
                if (newline < 0) break;
                EmitPartial(lines);
                data = data[(newline + 1)..];
            }
        }
        return file.Position;
    }

    private void FinishPartial(List<string> lines)
    {
        if (_partial.Count > 0) EmitPartial(lines);
    }

    private void EmitPartial(List<string> lines)
    {
        string text = Utf8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_partial));
        _partial.Clear();
        lines.Add(Printable(text));
    }

    // Control characters (C0, DEL, C1) as \xNN; everything else as it is (the writer's escapes stay readable, not doubled).
    private static string Printable(string text)
    {
        if (!text.Any(c => c < 0x20 || c is >= '\x7f' and < '\xa0')) return text;
        var sb = new StringBuilder(text.Length + 16);
        foreach (char c in text)
        {
            if (c < 0x20 || c is >= '\x7f' and < '\xa0') sb.Append(System.Globalization.CultureInfo.InvariantCulture, $"\\x{(int)c:x2}");
            else sb.Append(c);
        }
        return sb.ToString();
    }
}

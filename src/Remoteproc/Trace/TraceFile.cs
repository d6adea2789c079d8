using System.Globalization;
using System.Text;

namespace AmpCan.Remoteproc.Trace;

/// <summary>
/// The text file one trace's lines are appended to, bounded in size: when the next line would take it past
/// <see cref="MaxBytes"/> it is renamed to <c>&lt;path&gt;.1</c> (replacing the older one) and a new file is begun, so
/// a trace never holds more than about twice <see cref="MaxBytes"/> of disk however much the remote prints. Each file it
/// begins starts with a header line that no other file has (<see cref="HeaderPrefix"/>, a random id, the time), which is
/// how <see cref="TraceFileReader"/> tells a rotation from a file that only grew.
/// </summary>
/// <remarks>
/// Created with mode 0644 (a log is for reading) and never through a symbolic link: the service may run as root, and a
/// link planted in a shared directory must not aim it at another file. The file is opened at the first write and again
/// after a failure, so a full disk or a removed directory costs lines, not the writer. Errors are thrown to the caller
/// (<see cref="IOException"/>, <see cref="UnauthorizedAccessException"/>), which decides how to report them.
/// </remarks>
public sealed class TraceFile : IDisposable
{
    /// <summary>How the first line of every file this writer begins starts.</summary>
    public const string HeaderPrefix = "--- ampcan trace file ";

    /// <summary>The smallest <see cref="MaxBytes"/> accepted (4 KiB).</summary>
    public const long MinMaxBytes = 4096;

    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);
    private readonly string _description;
    private readonly TimeProvider _time;
    private FileStream? _stream;
    private byte[] _encoded = new byte[256];
    private long _size;
    private long _headerBytes; // of the file open now: 0 when it was begun by someone else

    /// <summary>A writer for <paramref name="path"/>; nothing is opened until the first line.</summary>
    /// <param name="path">The file.</param>
    /// <param name="maxBytes">The size a file is rotated at (at least <see cref="MinMaxBytes"/>); one line longer than that still goes in whole.</param>
    /// <param name="description">What the file holds, for its header line (one line, no control characters).</param>
    /// <param name="time">The clock for the header's time.</param>
    public TraceFile(string path, long maxBytes, string description, TimeProvider? time = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, MinMaxBytes);
        ArgumentNullException.ThrowIfNull(description);
        if (description.Any(char.IsControl)) throw new ArgumentException("the description must be one line without control characters", nameof(description));
        Path = System.IO.Path.GetFullPath(path);
        MaxBytes = maxBytes;
        _description = description;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The file written.</summary>
    public string Path { get; }

    /// <summary>The size a file is rotated at.</summary>
    public long MaxBytes { get; }

    /// <summary>Times the file was rotated by this writer.</summary>
    public int Rotations { get; private set; }

    /// <summary>Appends <paramref name="line"/> and a newline (buffered: see <see cref="Flush"/>); rotates first when it would not fit.</summary>
    /// <exception cref="IOException">The file cannot be opened, rotated or written; the message names it.</exception>
    /// <exception cref="UnauthorizedAccessException">The file or its directory may not be written.</exception>
    public void WriteLine(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        int bytes = Encode(line);
        try
        {
            if (_stream is null) Open();
            if (_size + bytes > MaxBytes && _size > _headerBytes) Rotate();
            _stream!.Write(_encoded, 0, bytes);
            _size += bytes;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Close(); // opened again at the next line
            throw;
        }
    }

    /// <summary>Writes what is buffered, so a reader sees whole lines.</summary>
    public void Flush()
    {
        try { _stream?.Flush(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Close();
            throw;
        }
    }

    /// <summary>Flushes and closes the file (a later line opens it again).</summary>
    public void Dispose()
    {
        try { _stream?.Flush(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // nothing left to tell: the lines are lost either way
        Close();
    }

    private int Encode(string line)
    {
        int need = Utf8.GetMaxByteCount(line.Length) + 1;
        if (_encoded.Length < need) _encoded = new byte[Math.Max(need, _encoded.Length * 2)];
        int n = Utf8.GetBytes(line, _encoded);
        _encoded[n] = (byte)'\n';
        return n + 1;
    }

    private void Open()
    {
        string? directory = System.IO.Path.GetDirectoryName(Path);
        if (directory is not null) Directory.CreateDirectory(directory);
        if (new FileInfo(Path).LinkTarget is string target)
            throw new IOException($"trace file {Path} is a symbolic link (to {target}); it is not written through one");
        var options = new FileStreamOptions
        {
            Mode = FileMode.Append, Access = FileAccess.Write, Share = FileShare.ReadWrite | FileShare.Delete, BufferSize = 1 << 14,
        };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        _stream = new FileStream(Path, options);
        _size = _stream.Length;
        _headerBytes = 0;
        if (_size == 0) WriteHeader();
    }

    private void WriteHeader()
    {
        string stamp = _time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        // A Guid's randomness comes from the C library, not OpenSSL, which a board's root file system may not have.
        byte[] header = Utf8.GetBytes($"{HeaderPrefix}{Guid.NewGuid().ToString("N")[..16]}: {_description}, begun {stamp} ---\n");
        _stream!.Write(header);
        _size += header.Length;
        _headerBytes = header.Length;
    }

    private void Rotate()
    {
        _stream!.Flush();
        Close();
        // rename(2) replaces the older half at once; a reader holding it open keeps reading what it had.
        File.Move(Path, TraceFileNames.Rotated(Path), overwrite: true);
        Rotations++;
        Open();
    }

    private void Close()
    {
        FileStream? s = _stream;
        _stream = null;
        try { s?.Dispose(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // its buffered bytes are lost; the next line reopens
    }
}

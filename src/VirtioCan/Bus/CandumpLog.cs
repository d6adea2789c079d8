using System.Diagnostics;
using System.Text;
using AmpCan.SharedMem.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AmpCan.VirtioCan.Bus;

/// <summary>
/// Writes frames as <c>candump -L</c> lines (<see cref="CandumpLine"/>), the file <c>canplayer</c> replays: frames
/// handed to <see cref="Record"/> from any thread, and every frame of the ports it <see cref="Follow"/>s (a log as a
/// member of a bus). One thread of its own formats and writes them and flushes at most <see cref="FlushInterval"/>
/// after a line was written, so a slow disk never holds up a bus: frames that find the log's queue (or a followed
/// port's) full are dropped and counted.
/// </summary>
/// <remarks>
/// Where frames were lost, the log says so as candump -l does in its own log files, on a line of its own:
/// <c>DROPCOUNT: dropped 3 CAN frames on 'can0' socket (total drops 3)</c> ('any' when several interfaces lost
/// frames together). canplayer and log2asc skip lines that do not start with '(' (canplayer's usage says so);
/// log2long and python-can's CanutilsLogReader stop at them, as they stop at candump's own.
/// </remarks>
public sealed class CandumpLog : IDisposable
{
    /// <summary>Frames the log's own queue holds by default: half a second of a 1 Mbit/s bus at full load.</summary>
    public const int DefaultCapacity = 4096;

    /// <summary>The longest interface name canplayer accepts (IFNAMSIZ 16 with its terminator).</summary>
    public const int MaxInterfaceName = 15;

    private const int PassLimit = 1024; // frames from one source per pass, so that flushes and the other sources get their turn

    private struct Entry
    {
        public long UnixMicroseconds;
        public string Interface;
        public CanFrame Frame;
        public long DroppedBefore; // frames the queue lost just before this one
        public string? DroppedOn;
    }

    private sealed class Followed(ICanPort port)
    {
        public readonly ICanPort Port = port;
        public long DropsNoted;
    }

    private readonly TextWriter _writer;
    private readonly bool _ownsWriter;
    private readonly ILogger _logger;
    private readonly RateLimitedLog _errors = new();
    private readonly long _flushTicks;
    private readonly char[] _line = new char[Math.Max(CandumpLine.MaxLength(MaxInterfaceName), 128) + 1];

    private readonly Lock _gate = new();
    private readonly Entry[] _queue; // under _gate
    private int _head, _count;
    private long _droppedRun, _queueDrops; // under _gate
    private string? _droppedRunOn;

    private Followed[] _followed = []; // replaced, never changed in place
    private readonly WakeSignal _wake = new();
    private readonly Thread _thread;
    private volatile bool _stopping;
    private int _disposed;
    private bool _unflushed;
    private long _lastFlush;
    private long _written, _dropped;

    /// <summary>
    /// A log into <paramref name="writer"/> (disposed with the log when <paramref name="ownsWriter"/>), flushed at most
    /// <paramref name="flushInterval"/> (default 250 ms) after a line, with a queue of <paramref name="capacity"/> frames.
    /// </summary>
    public CandumpLog(TextWriter writer, bool ownsWriter = false, TimeSpan? flushInterval = null, int capacity = DefaultCapacity, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        FlushInterval = flushInterval ?? TimeSpan.FromMilliseconds(250);
        ArgumentOutOfRangeException.ThrowIfLessThan(FlushInterval, TimeSpan.Zero, nameof(flushInterval));
        _writer = writer;
        _ownsWriter = ownsWriter;
        _logger = logger ?? NullLogger.Instance;
        _flushTicks = (long)(FlushInterval.TotalSeconds * Stopwatch.Frequency);
        _queue = new Entry[capacity];
        _thread = new Thread(Run) { IsBackground = true, Name = "candump log" };
        _thread.Start();
    }

    /// <summary>A log into a new file at <paramref name="path"/> (an existing one is replaced).</summary>
    /// <exception cref="IOException">The file cannot be created (the message names it and says why).</exception>
    public static CandumpLog Create(string path, TimeSpan? flushInterval = null, int capacity = DefaultCapacity, ILogger? logger = null)
    {
        StreamWriter writer;
        try
        {
            writer = new StreamWriter(path, append: false, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new IOException($"candump log {path}: cannot create it ({e.Message})", e);
        }
        return new CandumpLog(writer, ownsWriter: true, flushInterval, capacity, logger);
    }

    /// <summary>The longest a written line waits for its flush.</summary>
    public TimeSpan FlushInterval { get; }

    /// <summary>Frame lines written.</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>Frames lost before they were written: the log's queue or a followed port's was full, or the writer failed.</summary>
    public long Dropped
    {
        get
        {
            long portDrops = 0;
            foreach (Followed f in Volatile.Read(ref _followed)) portDrops += f.Port.Dropped;
            lock (_gate) return _queueDrops + Interlocked.Read(ref _dropped) + portDrops;
        }
    }

    /// <summary>Throws unless <paramref name="name"/> can label a candump line that canplayer replays: 1 to 15 visible ASCII characters.</summary>
    /// <exception cref="ArgumentException">It cannot (the message names it and says why).</exception>
    public static void CheckInterfaceName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length is 0 or > MaxInterfaceName)
            throw new ArgumentException($"'{name}' cannot name an interface in a candump log: {name.Length} characters, canplayer takes 1 to {MaxInterfaceName}", nameof(name));
        foreach (char c in name)
            if (c is <= ' ' or > '~')
                throw new ArgumentException($"'{name}' cannot name an interface in a candump log: only visible ASCII characters, no blanks", nameof(name));
    }

    /// <summary>
    /// Queues a frame seen now on <paramref name="interfaceName"/>; never blocks. False when the queue is full: the
    /// frame is dropped and counted, and the log notes the gap.
    /// </summary>
    /// <exception cref="ArgumentException">The name cannot label a candump line (<see cref="CheckInterfaceName"/>).</exception>
    public bool Record(string interfaceName, in CanFrame frame)
    {
        CheckInterfaceName(interfaceName);
        long micros = UnixMicrosecondsNow();
        bool wasEmpty;
        lock (_gate)
        {
            if (_count == _queue.Length)
            {
                _queueDrops++;
                _droppedRunOn = _droppedRun++ == 0 || string.Equals(_droppedRunOn, interfaceName, StringComparison.Ordinal) ? interfaceName : "any";
                return false;
            }
            ref Entry slot = ref _queue[(_head + _count) % _queue.Length];
            slot.UnixMicroseconds = micros;
            slot.Interface = interfaceName;
            slot.Frame = frame;
            slot.DroppedBefore = _droppedRun;
            slot.DroppedOn = _droppedRunOn;
            _droppedRun = 0;
            _droppedRunOn = null;
            wasEmpty = _count++ == 0;
        }
        if (wasEmpty) _wake.Signal();
        return true;
    }

    /// <summary>
    /// Logs every frame <paramref name="port"/> receives, under its name: the log's thread becomes the port's taker
    /// (its <see cref="ICanPort.FrameArrived"/> is the log's) and the log disposes it with itself.
    /// </summary>
    /// <exception cref="ArgumentException">The port's name cannot label a candump line (<see cref="CheckInterfaceName"/>).</exception>
    public void Follow(ICanPort port)
    {
        ArgumentNullException.ThrowIfNull(port);
        ObjectDisposedException.ThrowIf(_stopping, this);
        CheckInterfaceName(port.Name);
        var followed = new Followed(port) { DropsNoted = port.Dropped };
        lock (_gate) _followed = [.. _followed, followed];
        port.FrameArrived = _wake.Signal;
        _wake.Signal();
    }

    private void Run()
    {
        while (true)
        {
            bool stopping = _stopping; // read first: what was queued before Dispose is written before the thread ends
            bool more = false;
            try
            {
                _wake.Rearm();
                foreach (Followed f in Volatile.Read(ref _followed)) more |= WriteFollowed(f);
                more |= WriteQueued();
                // Stopping, the queue is written out, but no more of it than it holds: a flood of Records cannot keep the thread.
                for (int pass = 0; stopping && more && pass <= _queue.Length / PassLimit; pass++) more = WriteQueued();
                FlushIfDue(stopping);
            }
            catch (Exception e)
            {
                // Nothing here may end the process; a fault that repeats costs a log line now and then.
                if (_errors.ShouldLog(out long suppressed))
                    _logger.LogError(e, "candump log: fault{Suppressed}", RateLimitedLog.Note(suppressed));
            }
            if (stopping) return;
            if (!more) _wake.Wait(_unflushed ? MillisecondsUntilFlush() : Timeout.Infinite);
        }
    }

    private bool WriteFollowed(Followed f)
    {
        int n = 0;
        while (n < PassLimit && f.Port.TryReceive(out CanFrame frame))
        {
            WriteFrame(UnixMicrosecondsNow(), f.Port.Name, frame);
            n++;
        }
        // The port drops the newest frames when full, so the gap is noted where it is noticed: after what was waiting.
        long drops = f.Port.Dropped;
        if (drops != f.DropsNoted)
        {
            WriteDropCount(drops - f.DropsNoted, f.Port.Name, drops);
            f.DropsNoted = drops;
        }
        return n == PassLimit;
    }

    private bool WriteQueued()
    {
        for (int n = 0; n < PassLimit; n++)
        {
            Entry e;
            long totalDrops;
            lock (_gate)
            {
                totalDrops = _queueDrops;
                if (_count == 0)
                {
                    // Frames lost after the last one queued: noted now rather than with the next frame, whenever that comes.
                    e = new Entry { DroppedBefore = _droppedRun, DroppedOn = _droppedRunOn };
                    _droppedRun = 0;
                    _droppedRunOn = null;
                }
                else
                {
                    e = _queue[_head];
                    _queue[_head].Interface = null!;
                    _head = (_head + 1) % _queue.Length;
                    _count--;
                }
            }
            if (e.DroppedBefore > 0) WriteDropCount(e.DroppedBefore, e.DroppedOn!, totalDrops);
            if (e.Interface is null) return false;
            WriteFrame(e.UnixMicroseconds, e.Interface, e.Frame);
        }
        return true;
    }

    private void WriteFrame(long unixMicroseconds, string interfaceName, in CanFrame frame)
    {
        int n = CandumpLine.Format(_line, unixMicroseconds, interfaceName, frame);
        _line[n++] = '\n';
        try
        {
            _writer.Write(_line, 0, n);
            _unflushed = true;
            Interlocked.Increment(ref _written);
        }
        catch (Exception e)
        {
            Interlocked.Increment(ref _dropped);
            if (_errors.ShouldLog(out long suppressed))
                _logger.LogError(e, "candump log: writing a line failed{Suppressed}", RateLimitedLog.Note(suppressed));
        }
    }

    private void WriteDropCount(long frames, string interfaceName, long total)
    {
        try
        {
            _writer.Write($"DROPCOUNT: dropped {frames} CAN frame{(frames == 1 ? "" : "s")} on '{interfaceName}' socket (total drops {total})\n");
            _unflushed = true;
        }
        catch (Exception e)
        {
            if (_errors.ShouldLog(out long suppressed))
                _logger.LogError(e, "candump log: writing a drop count failed{Suppressed}", RateLimitedLog.Note(suppressed));
        }
    }

    private void FlushIfDue(bool stopping)
    {
        if (!_unflushed) return;
        long now = Stopwatch.GetTimestamp();
        if (!stopping && now - _lastFlush < _flushTicks) return;
        _unflushed = false; // a failed flush is not retried at once: its data is the writer's to keep or lose
        _lastFlush = now;
        _writer.Flush();
    }

    private int MillisecondsUntilFlush()
    {
        long left = _lastFlush + _flushTicks - Stopwatch.GetTimestamp();
        return left <= 0 ? 0 : (int)Math.Min(int.MaxValue, (left * 1000 + Stopwatch.Frequency - 1) / Stopwatch.Frequency);
    }

    private static long UnixMicrosecondsNow() => (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) / TimeSpan.TicksPerMicrosecond;

    /// <summary>
    /// Writes what was queued, flushes, then disposes the followed ports and (when it owns it) the writer. A writer
    /// stuck for 5 s is left to its thread, which ends when the write returns.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stopping = true;
        _wake.Signal();
        bool ended = Thread.CurrentThread == _thread || _thread.Join(TimeSpan.FromSeconds(5));
        foreach (Followed f in Volatile.Read(ref _followed))
        {
            f.Port.FrameArrived = null;
            f.Port.Dispose();
        }
        if (!ended)
        {
            _logger.LogWarning("candump log: the writer did not finish within 5 s; its last lines may be lost");
            return;
        }
        _wake.Dispose();
        if (_ownsWriter) _writer.Dispose();
    }
}

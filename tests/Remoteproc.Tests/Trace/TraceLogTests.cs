using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Trace;
using AmpCan.SharedMem;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace AmpCan.Tests.Remoteproc.Trace;

/// <summary>
/// A core's traces followed on a clock the test moves: lines to the file and the log at each tick, the log limited,
/// the file rotated, the last words read at dispose, and nothing that goes wrong reaching the timer.
/// </summary>
public class TraceLogTests
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(100);
    private const ulong Base = 0x3000_0000;
    private string _dir = null!;
    private MappedRegion _memory = null!;
    private MemoryMap _map = null!;
    private CapturingLoggerFactory _logs = null!;
    private FakeTimeProvider _clock = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), $"ampcan-tracelog-{Guid.NewGuid():N}");
        _memory = MappedRegion.CreateMemfd("shm", 0x4000, Base);
        _map = new MemoryMap(_memory.Io);
        _logs = new CapturingLoggerFactory();
        _clock = new FakeTimeProvider(new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero));
    }

    [TearDown]
    public void TearDown()
    {
        _memory.Dispose();
        _logs.Dispose();
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private TraceLogOptions Options => new() { Directory = _dir, Time = _clock, LogInterval = TimeSpan.FromHours(1) };

    private IoRegion At(ulong da, int length) => _memory.Io.Slice(da - Base, (ulong)length);

    private string[] TraceLines() => [.. _logs.Lines.Where(l => l.Category == TraceLog.Category).Select(l => l.Text)];

    private static string[] FileLines(string path) => [.. File.ReadAllLines(path).Where(l => !l.StartsWith("---", StringComparison.Ordinal))];

    [Test]
    public void EachTickWritesNewLinesToTheCoresFileAndTheLog()
    {
        TraceResource[] table = [new(2, 0x3000_1000, 0x400, "cm4_log"), new(3, 0x3000_2000, 0x100, ""), new(4, 0x3000_3f00, 0x200, "outside")];
        using TraceLog log = TraceLog.Start("zcu102/r5f0", table, _map, Options, _logs);
        string first = Path.Combine(_dir, "zcu102_r5f0-cm4_log.log"), second = Path.Combine(_dir, "zcu102_r5f0-trace1.log");
        Assert.That(log.Files, Is.EqualTo(new[] { first, second }), "an empty name is trace<N>, as Linux names its debugfs file");
        Assert.That(_logs.AtLeast(LogLevel.Warning), Has.One.Contains("resource entry 4 (trace \"outside\", da 0x30003f00, len 0x200): the buffer is not inside the remote's mapped memory; that trace is not followed"));
        Assert.That(File.ReadAllLines(first), Has.Length.EqualTo(2), "a header and the line saying what is followed");
        Assert.That(File.ReadAllLines(first)[1], Is.EqualTo("--- 2025-01-02T03:04:05.000Z following trace \"cm4_log\" of zcu102/r5f0: 1024 bytes at 0x30001000 ---"));

        var writer = new NulTerminatedTraceWriter(At(0x3000_1000, 0x400));
        writer.Write("hello from the R5\nhalf");
        new RingTraceWriter(At(0x3000_2000, 0x100)).Write("other trace\n");
        Assert.That(FileLines(first), Is.Empty, "nothing before the tick");
        _clock.Advance(Tick);
        Assert.That(FileLines(first), Is.EqualTo(new[] { "hello from the R5" }));
        Assert.That(FileLines(second), Is.EqualTo(new[] { "other trace" }));
        Assert.That(TraceLines(), Does.Contain("zcu102/r5f0 cm4_log: hello from the R5").And.Contain("zcu102/r5f0 trace1: other trace"));
        Assert.That(TraceLines(), Has.None.Contains("half"), "an unfinished line waits");
        writer.Write(" done\n");
        _clock.Advance(Tick);
        Assert.That(FileLines(first), Is.EqualTo(new[] { "hello from the R5", "half done" }));
    }

    [Test]
    public void TheLogIsRateLimitedButTheFileGetsEveryLine()
    {
        using TraceLog log = TraceLog.Start("sim", [new(1, 0x3000_1000, 0x1000, "trace0")], _map, Options with { LogBurst = 5 }, _logs);
        var writer = new NulTerminatedTraceWriter(At(0x3000_1000, 0x1000));
        for (int i = 0; i < 40; i++) writer.Write($"flood {i}\n");
        _clock.Advance(Tick);
        Assert.That(FileLines(log.Files[0]), Has.Length.EqualTo(40));
        Assert.That(TraceLines().Count(l => l.Contains("flood", StringComparison.Ordinal)), Is.EqualTo(5));
        log.Dispose();
        Assert.That(TraceLines(), Has.One.EqualTo($"sim trace0: 35 trace lines were not logged (rate limit); every line is in {log.Files[0]}"));
    }

    [Test]
    public void DisposeReadsTheLastWordsUnlessTheMemoryIsAlreadyReleased()
    {
        var writer = new NulTerminatedTraceWriter(At(0x3000_1000, 0x100));
        TraceLog log = TraceLog.Start("sim", [new(1, 0x3000_1000, 0x100, "trace0")], _map, Options, _logs);
        writer.Write("HardFault at 0x0800_1234\n");
        log.Dispose();
        Assert.That(FileLines(log.Files[0]), Is.EqualTo(new[] { "HardFault at 0x0800_1234" }), "read once more at dispose, without a tick");

        TraceLog late = TraceLog.Start("sim", [new(1, 0x3000_1000, 0x100, "trace0")], _map, Options, _logs);
        _memory.Dispose(); // the session released the memory first: its pages are private zeroes now
        late.Dispose();
        Assert.That(File.ReadAllLines(late.Files[0]).Count(l => l.Contains("started its trace over", StringComparison.Ordinal)), Is.Zero, "zeroes are not a restart");
        Assert.That(FileLines(late.Files[0]), Is.EqualTo(new[] { "HardFault at 0x0800_1234" }));
    }

    [Test]
    public void ARestartIsMarkedInTheFileAndALongLineIsWrittenInPieces()
    {
        IoRegion buffer = At(0x3000_1000, 0x40);
        using TraceLog log = TraceLog.Start("sim", [new(1, 0x3000_1000, 0x40, "trace0")], _map, Options, _logs);
        new NulTerminatedTraceWriter(buffer).Write("before reboot\n");
        _clock.Advance(Tick);
        buffer.Clear(0, 0x40);
        var writer = new NulTerminatedTraceWriter(buffer);
        writer.Write("rebooted\n");
        _clock.Advance(Tick);
        foreach (string part in new[] { new string('L', 40), new string('L', 40), "\n" })
        {
            writer.Write(part);
            _clock.Advance(Tick);
        }
        string[] lines = File.ReadAllLines(log.Files[0]);
        Assert.That(lines[^5..], Is.EqualTo(new[]
        {
            "before reboot", "--- 2025-01-02T03:04:05.200Z the remote started its trace over ---", "rebooted",
            new string('L', 0x40) + "…", new string('L', 80 - 0x40),
        }), "a line longer than the 64-byte buffer: a piece as long as the buffer, then the rest");
        Assert.That(TraceLines(), Does.Contain("sim trace0: the remote started its trace over (it rebooted, cleared the buffer, or wrote more than it holds between two reads)"));
    }

    [Test]
    public void TheFileIsRotatedAtItsLimit()
    {
        using TraceLog log = TraceLog.Start("sim", [new(1, 0x3000_1000, 0x400, "trace0")], _map, Options with { MaxFileBytes = 4096 }, _logs);
        var writer = new RingTraceWriter(At(0x3000_1000, 0x400));
        for (int i = 0; i < 300; i++)
        {
            writer.Write($"line {i:D3} of a remote that prints a lot\n");
            if (i % 10 == 9) _clock.Advance(Tick);
        }
        Assert.That(File.Exists(log.Files[0] + ".1"), Is.True);
        Assert.That(new FileInfo(log.Files[0]).Length, Is.LessThanOrEqualTo(4096));
        Assert.That(FileLines(log.Files[0])[^1], Is.EqualTo("line 299 of a remote that prints a lot"));
    }

    [Test]
    public void AFileThatCannotBeWrittenIsOneWarningAndTheLinesAreStillLogged()
    {
        File.WriteAllText(_dir, "a file where the directory should be");
        try
        {
            using TraceLog log = TraceLog.Start("sim", [new(1, 0x3000_1000, 0x100, "trace0")], _map, Options, _logs);
            var writer = new NulTerminatedTraceWriter(At(0x3000_1000, 0x100));
            for (int i = 0; i < 5; i++)
            {
                writer.Write($"still here {i}\n");
                _clock.Advance(Tick);
            }
            Assert.That(TraceLines(), Does.Contain("sim trace0: still here 4"));
            Assert.That(_logs.AtLeast(LogLevel.Warning), Has.One.Contains($"cannot write {log.Files[0]}"), "rate-limited: one a minute");
        }
        finally { File.Delete(_dir); }
    }

    [Test]
    public void ALoggerThatThrowsNeverReachesTheTimer()
    {
        using var throwing = new ThrowingLoggerFactory();
        using TraceLog log = TraceLog.Start("sim", [new(1, 0x3000_1000, 0x100, "trace0")], _map, Options, throwing);
        new NulTerminatedTraceWriter(At(0x3000_1000, 0x100)).Write("boom\n");
        Assert.DoesNotThrow(() => _clock.Advance(Tick));
        Assert.That(FileLines(log.Files[0]), Is.EqualTo(new[] { "boom" }), "the file still gets the line");
    }

    private sealed class ThrowingLoggerFactory : ILoggerFactory, ILogger
    {
        private int _calls;
        public ILogger CreateLogger(string categoryName) => this;
        public void AddProvider(ILoggerProvider provider) { }
        public void Dispose() { }
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            // Let the start-up lines through; fail every trace line after.
            if (++_calls > 2) throw new InvalidOperationException("logger broke");
        }
    }
}

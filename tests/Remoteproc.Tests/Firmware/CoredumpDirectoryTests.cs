using AmpCan.Remoteproc.Firmware;
using AmpCan.SharedMem;
using Microsoft.Extensions.Logging;

namespace AmpCan.Tests.Remoteproc.Firmware;

public class CoredumpDirectoryTests
{
    /// <summary>A clock that moves one second each time it is read, so every dump gets a later name without sleeping.</summary>
    private sealed class SteppingClock(DateTimeOffset start) : TimeProvider
    {
        private DateTimeOffset _now = start;
        public TimeSpan Step { get; set; } = TimeSpan.FromSeconds(1);
        public override DateTimeOffset GetUtcNow() => (_now += Step) - Step;
    }

    private string _dir = null!;
    private MappedRegion _memory = null!;
    private CapturingLoggerFactory _logs = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), $"ampcan-dumps-{Guid.NewGuid():N}");
        _memory = MappedRegion.CreateMemfd("sram", 0x1000, 0x2000_0000);
        _memory.Io.GetSpan(0, 0x1000).Fill(0x5A);
        _logs = new CapturingLoggerFactory();
    }

    [TearDown]
    public void TearDown()
    {
        _memory.Dispose();
        _logs.Dispose();
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private CoreDumpSegment[] Segments => [new(0x2000_0000, _memory.Io)];

    private CoredumpDirectory Writer(CoredumpMode mode, int max = 3, TimeProvider? clock = null) =>
        new(_dir, mode, max, _logs.CreateLogger("coredump"), clock ?? new SteppingClock(new DateTimeOffset(2025, 3, 4, 5, 6, 7, TimeSpan.Zero)));

    [Test]
    public void DisabledWritesNothing()
    {
        CoredumpResult r = Writer(CoredumpMode.Disabled).Write("m4", ElfMachine.Arm, 0, Segments);
        Assert.That(r.Outcome, Is.EqualTo(CoredumpOutcome.Disabled));
        Assert.That(Directory.Exists(_dir), Is.False, "not even the directory");
    }

    [Test]
    public void EnabledWritesANamedCoreThatParses()
    {
        CoredumpResult r = Writer(CoredumpMode.Enabled).Write("m4", ElfMachine.Arm, 0x1000_0101, Segments);
        Assert.That(r.Outcome, Is.EqualTo(CoredumpOutcome.Written), r.Error);
        Assert.That(Path.GetFileName(r.Path), Is.EqualTo("m4-20250304T050607.0000000Z.core"));
        ElfImage core = ElfImage.Parse(File.ReadAllBytes(r.Path!));
        Assert.That(core.Segments.Single().PhysicalAddress, Is.EqualTo(0x2000_0000UL));
        Assert.That(Directory.GetFiles(_dir), Has.Length.EqualTo(1), "no partial file left");
        Assert.That(_logs.AtLeast(LogLevel.Warning).Single(), Does.Contain("coredump written to").And.Contain(r.Path!));
    }

    [Test]
    public void KeepsTheNewestOfItsOwnAndNothingElseIsTouched()
    {
        Directory.CreateDirectory(_dir);
        string[] foreign = ["notes.core", "m4-latest.core", "m4-20000101T000000.0000000Z.core.bak", "README"];
        foreach (string f in foreign) File.WriteAllText(Path.Combine(_dir, f), "not a dump of ours");
        CoredumpDirectory w = Writer(CoredumpMode.Enabled, max: 3);
        var written = new List<string>();
        var removed = new List<string>();
        for (int i = 0; i < 5; i++)
        {
            CoredumpResult r = w.Write(i % 2 == 0 ? "m4" : "r5f-0", ElfMachine.Arm, 0, Segments);
            Assert.That(r.Outcome, Is.EqualTo(CoredumpOutcome.Written), r.Error);
            written.Add(r.Path!);
            removed.AddRange(r.Removed);
        }
        Assert.That(removed, Is.EqualTo(written.Take(2)), "the two oldest, across remotes");
        Assert.That(w.Dumps(), Is.EqualTo(written.Skip(2)));
        Assert.That(Directory.GetFiles(_dir).Select(Path.GetFileName).Order(StringComparer.Ordinal),
            Is.EqualTo(foreign.Concat(written.Skip(2).Select(Path.GetFileName)).Order(StringComparer.Ordinal)));
    }

    [Test]
    public void TwoDumpsInOneTickGetDistinctNames()
    {
        var clock = new SteppingClock(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero)) { Step = TimeSpan.Zero };
        CoredumpDirectory w = Writer(CoredumpMode.Enabled, clock: clock);
        string a = w.Write("m4", ElfMachine.Arm, 0, Segments).Path!, b = w.Write("m4", ElfMachine.Arm, 0, Segments).Path!;
        Assert.That(Path.GetFileName(b), Is.EqualTo(Path.GetFileName(a).Replace(".core", "-1.core", StringComparison.Ordinal)));
        Assert.That(w.Dumps(), Is.EqualTo(new[] { a, b }));
    }

    [Test]
    public void ANameThatIsAPathStaysInTheDirectory()
    {
        CoredumpResult r = Writer(CoredumpMode.Enabled).Write("../../etc/m4 core", ElfMachine.Arm, 0, Segments);
        Assert.That(Path.GetDirectoryName(r.Path), Is.EqualTo(Path.GetFullPath(_dir)));
        Assert.That(Path.GetFileName(r.Path), Does.StartWith("_._.._etc_m4_core-"));
    }

    [Test]
    public void ADiskErrorIsAResultAndALogLineNotAnException()
    {
        File.WriteAllText(_dir, "a file where the directory should be");
        try
        {
            CoredumpResult r = Writer(CoredumpMode.Enabled).Write("m4", ElfMachine.Arm, 0, Segments);
            Assert.That(r.Outcome, Is.EqualTo(CoredumpOutcome.Failed));
            Assert.That(r.Error, Is.Not.Empty);
            Assert.That(_logs.AtLeast(LogLevel.Error).Single(), Does.Contain("coredump to").And.Contain("failed"));
        }
        finally { File.Delete(_dir); }
    }

    [Test]
    public void AFailedWriteLeavesNoPartialFile()
    {
        using var other = MappedRegion.CreateMemfd("overlapping", 0x100, 0x2000_0010);
        CoredumpResult r = Writer(CoredumpMode.Enabled).Write("m4", ElfMachine.Arm, 0, [.. Segments, new(0x2000_0010, other.Io)]);
        Assert.That(r.Outcome, Is.EqualTo(CoredumpOutcome.Failed));
        Assert.That(r.Error, Does.Contain("overlap"));
        Assert.That(Directory.GetFiles(_dir), Is.Empty);
    }
}

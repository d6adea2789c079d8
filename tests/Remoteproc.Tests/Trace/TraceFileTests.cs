using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Trace;

namespace AmpCan.Tests.Remoteproc.Trace;

/// <summary>The trace file: appended, bounded by rotation to .1, never written through a link; and read back as tail -F does.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class TraceFileTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), $"ampcan-trace-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private string FilePath => Path.Combine(_dir, "sim-trace0.log");

    private static string[] Lines(string path) => File.ReadAllLines(path);

    [Test]
    public void NamesAreMadeSafeForAFileName()
    {
        Assert.That(RemoteFileNames.Safe("../etc/passwd"), Is.EqualTo("_._etc_passwd"));
        Assert.That(RemoteFileNames.Safe("trace:c66x_1"), Is.EqualTo("trace_c66x_1"));
        Assert.That(RemoteFileNames.Safe(".hidden"), Is.EqualTo("_hidden"));
        Assert.That(TraceFileNames.FileName("zcu102/r5f0", "Zephyr_log"), Is.EqualTo("zcu102_r5f0-Zephyr_log.log"));
        Assert.That(TraceFileNames.Pattern("zcu102/r5f0"), Is.EqualTo("zcu102_r5f0-*.log"));
    }

    [Test]
    public void LinesFollowAHeaderInAFileCreatedReadableByAll()
    {
        using (var file = new TraceFile(FilePath, 1 << 20, "core sim, trace \"trace0\""))
        {
            file.WriteLine("one");
            file.WriteLine("two é");
            file.Flush();
            string[] lines = Lines(FilePath);
            Assert.That(lines[0], Does.StartWith(TraceFile.HeaderPrefix).And.Contain("core sim, trace \"trace0\", begun "));
            Assert.That(lines[1..], Is.EqualTo(new[] { "one", "two é" }));
        }
        Assert.That(File.GetUnixFileMode(FilePath), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead));
        using (var again = new TraceFile(FilePath, 1 << 20, "core sim, trace \"trace0\""))
            again.WriteLine("three");
        Assert.That(Lines(FilePath)[1..], Is.EqualTo(new[] { "one", "two é", "three" }), "a later writer appends, under the same header");
    }

    [Test]
    public void AFileAtItsLimitIsRotatedToDot1SoATraceHoldsAtMostTwoFiles()
    {
        using var file = new TraceFile(FilePath, 4096, "core sim, trace \"trace0\"");
        string[] written = [.. Enumerable.Range(0, 1000).Select(i => $"line {i:D4} {new string('x', 40)}")];
        foreach (string line in written) file.WriteLine(line);
        file.Flush();
        Assert.That(file.Rotations, Is.GreaterThan(5));
        Assert.That(new FileInfo(FilePath).Length, Is.LessThanOrEqualTo(4096));
        Assert.That(new FileInfo(FilePath + ".1").Length, Is.LessThanOrEqualTo(4096));
        Assert.That(Directory.GetFiles(_dir), Has.Length.EqualTo(2));
        string[] older = Lines(FilePath + ".1"), newer = Lines(FilePath);
        Assert.That(older[0], Does.StartWith(TraceFile.HeaderPrefix));
        Assert.That(newer[0], Does.StartWith(TraceFile.HeaderPrefix).And.Not.EqualTo(older[0]), "each file has a header of its own");
        string[] kept = [.. older[1..], .. newer[1..]];
        Assert.That(kept, Is.EqualTo(written[^kept.Length..]), "the newest lines, in order, with no gap at the rotation");
    }

    [Test]
    public void ASymbolicLinkIsNotWrittenThrough()
    {
        string target = Path.Combine(_dir, "precious");
        File.WriteAllText(target, "keep\n");
        File.CreateSymbolicLink(FilePath, target);
        using var file = new TraceFile(FilePath, 4096, "core sim, trace \"trace0\"");
        Assert.That(() => file.WriteLine("x"), Throws.TypeOf<IOException>().With.Message.Contains("is a symbolic link"));
        Assert.That(File.ReadAllText(target), Is.EqualTo("keep\n"));
    }

    [Test]
    public void TheFirstReadReturnsTheRotatedFileThenTheCurrentOneAndLaterReadsWhatWasAppended()
    {
        using var file = new TraceFile(FilePath, 4096, "core sim, trace \"trace0\"");
        string[] written = [.. Enumerable.Range(0, 100).Select(i => $"line {i:D3} {new string('y', 60)}")];
        foreach (string line in written) file.WriteLine(line);
        file.Flush();
        Assert.That(file.Rotations, Is.EqualTo(1));

        var reader = new TraceFileReader(FilePath);
        var got = new List<string>();
        reader.ReadNew(got);
        Assert.That(got.Where(l => !l.StartsWith(TraceFile.HeaderPrefix, StringComparison.Ordinal)), Is.EqualTo(written));
        Assert.That(got.Count(l => l.StartsWith(TraceFile.HeaderPrefix, StringComparison.Ordinal)), Is.EqualTo(2));

        got.Clear();
        Assert.That(reader.ReadNew(got), Is.Zero);
        file.WriteLine("appended");
        file.Flush();
        reader.ReadNew(got);
        Assert.That(got, Is.EqualTo(new[] { "appended" }));
    }

    [Test]
    public void ARotationBetweenReadsLosesNoLine()
    {
        using var file = new TraceFile(FilePath, 4096, "core sim, trace \"trace0\"");
        var reader = new TraceFileReader(FilePath);
        var got = new List<string>();
        var written = new List<string>();
        for (int round = 0; round < 10; round++)
        {
            for (int i = 0; i < 37; i++)
            {
                string line = $"round {round} line {i:D2} {new string('z', 50)}";
                file.WriteLine(line);
                written.Add(line);
            }
            file.Flush();
            reader.ReadNew(got);
        }
        Assert.That(file.Rotations, Is.GreaterThanOrEqualTo(5), "a rotation in most rounds (never two: the lines of a file rotated out twice between reads are gone)");
        Assert.That(got.Where(l => !l.StartsWith(TraceFile.HeaderPrefix, StringComparison.Ordinal)), Is.EqualTo(written));
    }

    [Test]
    public void AnUnfinishedLineWaitsAndAFileThatIsNotThereGivesNothing()
    {
        var reader = new TraceFileReader(FilePath);
        var got = new List<string>();
        Assert.That(reader.Exists, Is.False);
        Assert.That(reader.ReadNew(got), Is.Zero);
        File.WriteAllText(FilePath, "header\nwhole\nhal");
        reader.ReadNew(got);
        Assert.That(got, Is.EqualTo(new[] { "header", "whole" }));
        File.AppendAllText(FilePath, "f\u001b[2J\n");
        got.Clear();
        reader.ReadNew(got);
        Assert.That(got, Is.EqualTo(new[] { @"half\x1b[2J" }), "control characters in a file not written by us are escaped");
        File.WriteAllText(FilePath, "header\nshorter\n");
        got.Clear();
        reader.ReadNew(got);
        Assert.That(got, Is.EqualTo(new[] { "header", "shorter" }), "a file cut short in place is read again from its start");
    }
}

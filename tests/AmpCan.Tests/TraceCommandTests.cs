using System.Text;
using AmpCan.Host.Commands;
using AmpCan.Remoteproc.Trace;

namespace AmpCan.Tests.Host;

/// <summary><c>ampcan trace</c> over trace files written as the service writes them: printed, followed across a rotation, or missing.</summary>
public class TraceCommandTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private string _dir = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), $"ampcan-trace-cmd-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private TraceFile Writer(string core, string trace, long maxBytes = 1 << 20) =>
        new(TraceFileNames.PathFor(_dir, core, trace), maxBytes, $"core {core}, trace \"{trace}\"");

    private static void Write(TraceFile file, params string[] lines)
    {
        foreach (string line in lines) file.WriteLine(line);
        file.Flush();
    }

    [Test]
    public void PrintsTheCoresTraceFile()
    {
        using (TraceFile file = Writer("sim", "trace0")) Write(file, "boot", "hello from the remote");
        var (code, output, error) = CommandLineTests.RunWithOutput("trace", "--board", "sim", "--directory", _dir);
        Assert.That(code, Is.Zero, error);
        string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines[0], Does.StartWith(TraceFile.HeaderPrefix));
        Assert.That(lines[1..], Is.EqualTo(new[] { "boot", "hello from the remote" }));
    }

    [Test]
    public void SeveralTracesArePrintedEachUnderItsNameAndACoreIsChosenByName()
    {
        using (TraceFile m4 = Writer("sim-two-cores/m4", "log")) Write(m4, "m4 line");
        using (TraceFile r5 = Writer("sim-two-cores/r5", "log")) Write(r5, "r5 line");
        using (TraceFile r5b = Writer("sim-two-cores/r5", "second")) Write(r5b, "r5 second line");

        var (code, output, error) = CommandLineTests.RunWithOutput("trace", "--board", "sim-two-cores", "--directory", _dir);
        Assert.That(code, Is.Zero, error);
        Assert.That(output, Does.Contain($"==> {Path.Combine(_dir, "sim-two-cores_m4-log.log")} <==").And.Contain("m4 line")
            .And.Contain($"==> {Path.Combine(_dir, "sim-two-cores_r5-second.log")} <==").And.Contain("r5 second line"));

        (code, output, error) = CommandLineTests.RunWithOutput("trace", "--board", "sim-two-cores", "--core", "r5", "--directory", _dir);
        Assert.That(code, Is.Zero, error);
        Assert.That(output, Does.Contain("r5 line").And.Contain("r5 second line").And.Not.Contain("m4 line"));

        (code, _, error) = CommandLineTests.RunWithOutput("trace", "--board", "sim-two-cores", "--core", "a53", "--directory", _dir);
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error, Does.Contain("has no core 'a53' (its cores: m4, r5)"));
    }

    [Test]
    public void AMissingFileIsOneLineNamingThePathAndWhoWritesIt()
    {
        var (code, output, error) = CommandLineTests.RunWithOutput("trace", "--board", "sim", "--directory", _dir);
        Assert.That(code, Is.EqualTo(1));
        Assert.That(output, Is.Empty);
        Assert.That(error.TrimEnd().Split('\n'), Has.Length.EqualTo(1));
        Assert.That(error, Does.StartWith($"ampcan: no trace file at {Path.Combine(_dir, "sim-*.log")}: the service writes <core>-<trace name>.log there while it serves a remote whose resource table has a trace entry"));

        string absent = Path.Combine(_dir, "absent");
        (code, _, error) = CommandLineTests.RunWithOutput("trace", "--directory", absent);
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error, Does.Contain($"{Path.Combine(absent, "sim-*.log")} (the directory does not exist)"));
    }

    [Test]
    public void TheDirectoryComesFromTheConfigurationWhenNotGiven()
    {
        using (TraceFile file = Writer("sim", "trace0")) Write(file, "configured");
        Environment.SetEnvironmentVariable("AmpCan__TraceDirectory", _dir);
        try
        {
            var (code, output, error) = CommandLineTests.RunWithOutput("trace");
            Assert.That(code, Is.Zero, error);
            Assert.That(output, Does.Contain("configured"));
        }
        finally { Environment.SetEnvironmentVariable("AmpCan__TraceDirectory", null); }
    }

    [Test]
    public async Task FollowPrintsLinesAsTheyAreWrittenAcrossARotationUntilCancelled()
    {
        using TraceFile file = Writer("sim", "trace0", maxBytes: 4096);
        Write(file, "before follow");
        var output = new WatchedWriter();
        using var stop = new CancellationTokenSource();
        Task<int> run = Task.Run(() => TraceCommand.Run("sim", null, follow: true, _dir, output, TextWriter.Null, TimeSpan.FromMilliseconds(20), stop.Token));
        Assert.That(output.WaitFor("before follow", Wait), Is.True, output.Text);

        Write(file, "appended while following");
        Assert.That(output.WaitFor("appended while following", Wait), Is.True, output.Text);

        string[] many = [.. Enumerable.Range(0, 60).Select(i => $"rotating line {i:D2} {new string('r', 60)}")];
        Write(file, many); // about 5 KiB: the file is rotated to .1 part way
        Assert.That(file.Rotations, Is.EqualTo(1));
        Assert.That(output.WaitFor(many[^1], Wait), Is.True, output.Text);
        string[] printed = [.. output.Text.Split('\n').Where(l => l.StartsWith("rotating line", StringComparison.Ordinal))];
        Assert.That(printed, Is.EqualTo(many), "every line once, in order, across the rotation");

        stop.Cancel();
        Assert.That(await run.WaitAsync(Wait), Is.Zero, "Ctrl+C ends --follow cleanly");
    }

    /// <summary>A writer a test can wait on: each line written wakes whoever waits for a text to appear.</summary>
    private sealed class WatchedWriter : TextWriter
    {
        private readonly StringBuilder _text = new();
        private readonly Lock _gate = new();
        private readonly SemaphoreSlim _written = new(0);

        public override Encoding Encoding => Encoding.UTF8;

        public string Text { get { lock (_gate) return _text.ToString(); } }

        public override void Write(char value)
        {
            lock (_gate) _text.Append(value);
            if (value == '\n') _written.Release();
        }

        public override void Write(string? value)
        {
            lock (_gate) _text.Append(value);
            if (value?.Contains('\n', StringComparison.Ordinal) == true) _written.Release();
        }

        /// <summary>Waits until <paramref name="expected"/> has been written, at most <paramref name="timeout"/>.</summary>
        public bool WaitFor(string expected, TimeSpan timeout)
        {
            DateTime deadline = DateTime.UtcNow + timeout;
            while (!Text.Contains(expected, StringComparison.Ordinal))
            {
                TimeSpan left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero || !_written.Wait(left)) return Text.Contains(expected, StringComparison.Ordinal);
            }
            return true;
        }
    }
}

using System.Diagnostics;
using System.Text;
using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;

namespace AmpCan.Tests.VirtioCan;

/// <summary>
/// The candump log: every frame it is given or its followed port receives becomes a candump -L line that parses back
/// (and that can-utils reads, where installed); a stuck writer costs counted frames and a DROPCOUNT note, never a
/// blocked caller; lines reach the writer's backing store by the flush interval, not only at the end.
/// </summary>
public class CandumpLogTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    /// <summary>A StringWriter that signals every write and flush, so that a test can wait for the log's thread.</summary>
    private sealed class WatchedWriter : StringWriter
    {
        private readonly AutoResetEvent _changed = new(false);
        private readonly Lock _gate = new();

        public int Flushes { get; private set; }

        public ManualResetEventSlim? Gate { get; set; } // when set, a write waits for it
        public ManualResetEventSlim WriteEntered { get; } = new(false);

        public override void Write(char[] buffer, int index, int count)
        {
            WriteEntered.Set();
            Gate?.Wait();
            lock (_gate) base.Write(buffer, index, count);
            _changed.Set();
        }

        public override void Write(string? value)
        {
            lock (_gate) base.Write(value);
            _changed.Set();
        }

        public override void Flush()
        {
            lock (_gate) Flushes++;
            _changed.Set();
        }

        public string Text
        {
            get { lock (_gate) return ToString(); }
        }

        public void WaitFor(Func<WatchedWriter, bool> condition, string what)
        {
            var limit = Stopwatch.StartNew();
            while (!condition(this))
                if (limit.Elapsed > Patience || !_changed.WaitOne(Patience - limit.Elapsed)) Assert.Fail($"{what} within {Patience}; the log holds:\n{Text}");
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _changed.Dispose();
            base.Dispose(disposing);
        }
    }

    private static CanFrame Frame(uint id, CanFrameKind kind, params byte[] data)
    {
        var f = new CanFrame { Id = id, Kind = kind, Length = (byte)data.Length };
        data.CopyTo(f.Payload);
        return f;
    }

    private static CanFrame Numbered(int i) => Frame((uint)i, CanFrameKind.None, (byte)i);

    private static readonly CanFrame[] Variety =
    [
        Frame(0x123, CanFrameKind.None, 0xDE, 0xAD, 0xBE, 0xEF),
        Frame(0x12345678, CanFrameKind.Extended, 0x11),
        new CanFrame { Id = 0x456, Kind = CanFrameKind.Remote, Length = 3 },
        Frame(0x321, CanFrameKind.Fd | CanFrameKind.BitRateSwitch, Enumerable.Range(0, 64).Select(i => (byte)i).ToArray()),
        Frame(0x40, CanFrameKind.Error, 0, 0, 0, 0, 0, 0, 0, 0),
        Frame(0x7FF, CanFrameKind.None),
    ];

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Test]
    public void RecordedFramesBecomeLinesThatParseBackInOrder()
    {
        var writer = new WatchedWriter();
        long before = (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) / 10;
        using (var log = new CandumpLog(writer))
        {
            foreach (CanFrame f in Variety) Assert.That(log.Record("can0", f), Is.True);
            log.Record("vcan1", Numbered(5));
        }
        long after = (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) / 10;

        string[] lines = Lines(writer.Text);
        Assert.That(lines, Has.Length.EqualTo(Variety.Length + 1));
        long last = 0;
        for (int i = 0; i < lines.Length; i++)
        {
            Assert.That(CandumpLine.TryParse(lines[i], out long micros, out ReadOnlySpan<char> iface, out CanFrame back), Is.True, lines[i]);
            Assert.That(iface.ToString(), Is.EqualTo(i < Variety.Length ? "can0" : "vcan1"));
            Assert.That(back.SameOnWire(i < Variety.Length ? Variety[i] : Numbered(5)), Is.True, lines[i]);
            Assert.That(micros, Is.InRange(Math.Max(before, last), after), "the time it was recorded, never going back");
            last = micros;
        }
    }

    [Test]
    public void AFollowedBusMemberLogsEveryFrameOnTheBus()
    {
        var writer = new WatchedWriter();
        using var bus = new VirtualCanBus("vcan0");
        using VirtualCanPort a = bus.Attach("a"), b = bus.Attach("b");
        using var log = new CandumpLog(writer);
        log.Follow(bus.Attach("vcan0"));
        for (int i = 0; i < 50; i++) (i % 2 == 0 ? a : b).Send(Numbered(i));
        writer.WaitFor(w => Lines(w.Text).Length >= 50, "50 lines");

        string[] lines = Lines(writer.Text);
        for (int i = 0; i < 50; i++)
        {
            Assert.That(CandumpLine.TryParse(lines[i], out _, out ReadOnlySpan<char> iface, out CanFrame back), Is.True, lines[i]);
            Assert.That((iface.ToString(), back.Id), Is.EqualTo(("vcan0", (uint)i)));
        }
        Assert.That((log.Written, log.Dropped), Is.EqualTo((50L, 0L)));
    }

    [Test]
    public void LinesAreFlushedByTheIntervalNotOnlyAtTheEnd()
    {
        var writer = new WatchedWriter();
        using var log = new CandumpLog(writer, flushInterval: TimeSpan.FromMilliseconds(50));
        log.Record("can0", Numbered(1));
        writer.WaitFor(w => w.Flushes > 0, "a flush");
        Assert.That(Lines(writer.Text), Has.Length.EqualTo(1), "the line was written before the flush");
        int flushes = writer.Flushes;
        log.Record("can0", Numbered(2));
        writer.WaitFor(w => w.Flushes > flushes, "a second flush for a later line");
    }

    [Test]
    public void AStuckWriterNeverBlocksRecordAndTheGapIsNotedWhereFramesWereLost()
    {
        var writer = new WatchedWriter { Gate = new ManualResetEventSlim(false) };
        using var log = new CandumpLog(writer, capacity: 4);
        log.Record("can0", Numbered(0));
        Assert.That(writer.WriteEntered.Wait(Patience), Is.True, "the log's thread is writing frame 0");

        var records = Task.Run(() => Enumerable.Range(1, 10).Select(i => log.Record("can0", Numbered(i))).ToArray());
        Assert.That(records.Wait(TimeSpan.FromSeconds(5)), Is.True, "Record returns while the writer is stuck");
        bool[] taken = records.Result;
        Assert.That(taken, Is.EqualTo(new[] { true, true, true, true, false, false, false, false, false, false }), "four fit the queue");
        Assert.That(log.Dropped, Is.EqualTo(6));

        writer.Gate.Set();
        writer.WaitFor(w => Lines(w.Text).Length >= 5, "frames 0 to 4 once the writer moves");
        Assert.That(log.Record("can0", Numbered(11)), Is.True, "room again");
        writer.WaitFor(w => Lines(w.Text).Length >= 7, "frames 0 to 4, the gap, frame 11");
        string[] lines = Lines(writer.Text);
        Assert.That(lines[5], Is.EqualTo("DROPCOUNT: dropped 6 CAN frames on 'can0' socket (total drops 6)"));
        Assert.That(CandumpLine.TryParse(lines[5], out _, out _, out _), Is.False, "a line canplayer skips");
        int[] ids = lines.Where((_, i) => i != 5).Select(l => CandumpLine.TryParse(l, out _, out _, out CanFrame f) ? (int)f.Id : -1).ToArray();
        Assert.That(ids, Is.EqualTo(new[] { 0, 1, 2, 3, 4, 11 }));
    }

    [Test]
    public void AFollowedPortThatLostFramesIsNotedToo()
    {
        var writer = new WatchedWriter { Gate = new ManualResetEventSlim(false) };
        using var bus = new VirtualCanBus("vcan0");
        using VirtualCanPort sender = bus.Attach("sender");
        using var log = new CandumpLog(writer);
        log.Follow(bus.Attach("vcan0", capacity: 2));
        sender.Send(Numbered(0));
        Assert.That(writer.WriteEntered.Wait(Patience), Is.True, "the log's thread is writing frame 0");
        for (int i = 1; i <= 5; i++) sender.Send(Numbered(i)); // two wait in the port, three are lost
        writer.Gate.Set();
        writer.WaitFor(w => w.Text.Contains("DROPCOUNT"), "the port's drop count");
        string[] lines = Lines(writer.Text);
        Assert.That(lines.Take(3).Select(l => CandumpLine.TryParse(l, out _, out _, out CanFrame f) ? (int)f.Id : -1), Is.EqualTo(new[] { 0, 1, 2 }));
        Assert.That(lines.Skip(3), Is.EqualTo(new[] { "DROPCOUNT: dropped 3 CAN frames on 'vcan0' socket (total drops 3)" }), "noted after what had been waiting");
        Assert.That(log.Dropped, Is.EqualTo(3));
    }

    [Test]
    public void InterfaceNamesCanplayerCannotTakeAreRefused()
    {
        Assert.DoesNotThrow(() => CandumpLog.CheckInterfaceName("vcan0"));
        Assert.That(() => CandumpLog.CheckInterfaceName(""), Throws.ArgumentException.With.Message.Contains("''"));
        Assert.That(() => CandumpLog.CheckInterfaceName("a-very-long-name0"), Throws.ArgumentException.With.Message.Contains("'a-very-long-name0'").And.Message.Contains("17 characters"));
        Assert.That(() => CandumpLog.CheckInterfaceName("can 0"), Throws.ArgumentException.With.Message.Contains("no blanks"));
        using var log = new CandumpLog(TextWriter.Null);
        Assert.That(() => log.Record("can 0", Numbered(1)), Throws.ArgumentException);
    }

    [Test]
    public void AFileThatCannotBeCreatedIsNamed()
    {
        string path = Path.Combine(Path.GetTempPath(), $"no-such-dir-{Guid.NewGuid():N}", "bus.log");
        Assert.That(() => CandumpLog.Create(path), Throws.InstanceOf<IOException>().With.Message.Contains(path));
    }

    // can-utils as the reader: log2asc skips the DROPCOUNT note as canplayer does (both skip lines not starting with
    // '('), log2long reads every frame line through can-utils' own parse_canframe.
    [Test]
    public void CanUtilsReadTheLog()
    {
        string? log2asc = FindTool("log2asc"), log2long = FindTool("log2long");
        if (log2asc is null || log2long is null) Assert.Ignore("can-utils (log2asc, log2long) is not installed here: the log is not checked against them");
        string dir = Directory.CreateTempSubdirectory("candump-log").FullName;
        try
        {
            string withGap = Path.Combine(dir, "gap.log"), plain = Path.Combine(dir, "plain.log");
            using (var log = CandumpLog.Create(plain))
                foreach (CanFrame f in Variety) log.Record("can0", f);
            File.WriteAllText(withGap, File.ReadAllText(plain).Replace("\n", "\nDROPCOUNT: dropped 1 CAN frame on 'can0' socket (total drops 1)\n", StringComparison.Ordinal));

            (int rc, string output) = Run(log2asc!, $"-I {withGap} can0", null);
            Assert.That(rc, Is.Zero, output);
            Assert.That(output.Split('\n').Count(l => l.Contains(" Rx ", StringComparison.Ordinal) || l.Contains("ErrorFrame", StringComparison.Ordinal)), Is.EqualTo(Variety.Length), output);
            Assert.That(output, Does.Contain("123             Rx   d 4 DE AD BE EF"));

            (rc, output) = Run(log2long!, "", plain);
            Assert.That(rc, Is.Zero, output);
            string[] lines = Lines(output);
            Assert.That(lines, Has.Length.EqualTo(Variety.Length), output);
            Assert.That(lines[0], Does.Contain("can0       123   [4]  DE AD BE EF"));
            Assert.That(lines[1], Does.Contain("12345678   [1]  11"));
            Assert.That(lines[2], Does.Contain("456   [3]  remote request"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string? FindTool(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    private static (int, string) Run(string tool, string arguments, string? stdinFile)
    {
        var start = new ProcessStartInfo(tool, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = stdinFile is not null };
        using Process p = Process.Start(start)!;
        if (stdinFile is not null)
        {
            p.StandardInput.Write(File.ReadAllText(stdinFile));
            p.StandardInput.Close();
        }
        Task<string> stdout = p.StandardOutput.ReadToEndAsync(), stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(Patience))
        {
            p.Kill();
            Assert.Fail($"{tool} did not finish within {Patience}");
        }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }
}

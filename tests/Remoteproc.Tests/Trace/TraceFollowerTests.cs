using System.Text;
using AmpCan.Remoteproc.Trace;
using AmpCan.SharedMem;
using CsCheck;

namespace AmpCan.Tests.Remoteproc.Trace;

/// <summary>
/// The follower over real mapped memory, written the way firmware writes: STM32Cube's NUL-after-each-byte buffer and
/// Zephyr's RAM-console ring. The bytes around the buffer are not NUL, so a read past its end would show in the text.
/// </summary>
public class TraceFollowerTests
{
    private const ulong BufferOffset = 0x100;
    private MappedRegion _memory = null!;

    [SetUp]
    public void SetUp()
    {
        _memory = MappedRegion.CreateMemfd("trace", 0x2000, 0x2000_0000);
        _memory.Io.GetSpan(0, 0x2000).Fill((byte)'G');
    }

    [TearDown]
    public void TearDown() => _memory.Dispose();

    private IoRegion Buffer(int length)
    {
        IoRegion region = _memory.Io.Slice(BufferOffset, (ulong)length);
        region.Clear(0, (ulong)length); // as the ELF loader leaves .bss
        return region;
    }

    private static TraceFollower Follow(IoRegion region, int maxLine = TraceFollower.DefaultMaxLineBytes) => new(new TraceBuffer(region, "trace0"), maxLine);

    private static List<TraceLine> Poll(TraceFollower f) => [.. f.Poll()];

    private static string[] Texts(IEnumerable<TraceLine> lines) => [.. lines.Select(l => l.Kind switch
    {
        TraceLineKind.Restart => "<restart>",
        TraceLineKind.Cut => l.Text + "<cut>",
        _ => l.Text,
    })];

    [Test]
    public void AppendedTextComesOutLineByLineAndAnUnfinishedLineWaitsForItsNewline()
    {
        IoRegion region = Buffer(256);
        var writer = new NulTerminatedTraceWriter(region);
        TraceFollower follower = Follow(region);
        writer.Write("boot\nhello wor");
        Assert.That(Texts(Poll(follower)), Is.EqualTo(new[] { "boot" }));
        Assert.That(follower.PendingBytes, Is.EqualTo("hello wor".Length));
        Assert.That(Poll(follower), Is.Empty, "nothing new");
        writer.Write("ld\r\nsecond\nthi");
        Assert.That(Texts(Poll(follower)), Is.EqualTo(new[] { "hello world", "second" }), "a \\r\\n ending loses its \\r");
        writer.Write("rd\n");
        Assert.That(Texts(Poll(follower)), Is.EqualTo(new[] { "third" }));
        Assert.That(follower.Wraps + follower.Restarts, Is.Zero);
    }

    [Test]
    public void TheFirstPollReturnsWhatIsAlreadyThereAsLinuxShowsIt()
    {
        IoRegion region = Buffer(64);
        region.Write(0, "early\nlines\n\0hidden after the NUL\n"u8);
        var buffer = new TraceBuffer(region, "trace0");
        Assert.That(Encoding.ASCII.GetString(buffer.ReadText()), Is.EqualTo("early\nlines\n"), "up to the first NUL, as debugfs trace0");
        Assert.That(Texts(new TraceFollower(buffer).Poll()), Is.EqualTo(new[] { "early", "lines" }));
    }

    [TestCase(false, 48, TestName = "TheNulTerminatedWriterIsFollowedAcrossItsWraps")]
    [TestCase(true, 50, TestName = "TheRingWriterIsFollowedAcrossItsWraps")]
    public void EachWriterIsFollowedAcrossItsWraps(bool ring, int length)
    {
        IoRegion region = Buffer(length);
        var nul = new NulTerminatedTraceWriter(region);
        var zephyr = new RingTraceWriter(region);
        TraceFollower follower = Follow(region);
        var seen = new List<string>();
        var written = new List<string>();
        for (int i = 0; i < 40; i++)
        {
            string line = $"tick {i:D3} [{new string((char)('a' + i % 26), i % 7)}]";
            if (ring) zephyr.Write(line + "\n");
            else nul.Write(line + "\n");
            written.Add(line);
            if (i % 2 == 1) seen.AddRange(Texts(Poll(follower))); // at most 36 bytes between polls: less than the buffer holds
        }
        Assert.That(seen, Is.EqualTo(written));
        int bytes = written.Sum(l => l.Length + 1);
        // The ring writer goes back to 0 after the last byte; the NUL-terminated one before it (the last byte holds its NUL).
        Assert.That(follower.Wraps, Is.EqualTo((bytes - 1) / (ring ? length : length - 1)), "every pass of the writer seen");
        Assert.That(follower.Restarts, Is.Zero, "a wrap is not a restart");
    }

    [Test]
    public void ALineSplitAcrossTheWrapComesOutWhole()
    {
        IoRegion region = Buffer(32);
        var nul = new NulTerminatedTraceWriter(region);
        TraceFollower follower = Follow(region);
        nul.Write("0123456789012345678901234\n"); // 26 of the 31 bytes it uses
        Assert.That(Texts(Poll(follower)), Is.EqualTo(new[] { "0123456789012345678901234" }));
        nul.Write("split across\n"); // 5 bytes at the end, 8 at the start
        Assert.That(Texts(Poll(follower)), Is.EqualTo(new[] { "split across" }));

        IoRegion ring = _memory.Io.Slice(0x1000, 32);
        ring.Clear(0, 32);
        var zephyr = new RingTraceWriter(ring);
        follower = Follow(ring);
        zephyr.Write("0123456789012345678901234\n");
        Assert.That(Texts(Poll(follower)), Is.EqualTo(new[] { "0123456789012345678901234" }));
        zephyr.Write("split across\n");
        Assert.That(Texts(Poll(follower)), Is.EqualTo(new[] { "split across" }));
    }

    [Test]
    public void EitherWriterIsFollowedWithoutLossWhenPolledBeforeItGoesRound()
    {
        // Any lines, polled after any chunk of fewer bytes than the buffer holds (so the writer never laps the reader).
        Gen.Select(Gen.Bool, Gen.Int[40, 200], Gen.String[Gen.Char["abc xyz0123456789-"], 0, 30].List[1, 60], Gen.Int[1, 1000].List[1, 80])
            .Sample((ring, length, bodies, cuts) =>
            {
                using MappedRegion memory = MappedRegion.CreateMemfd("trace", 0x400); // samples run in parallel: memory of their own
                memory.Io.GetSpan(0, 0x400).Fill((byte)'G');
                IoRegion region = memory.Io.Slice(0x100, (ulong)length);
                region.Clear(0, (ulong)length);
                var ringWriter = new RingTraceWriter(region);
                var nulWriter = new NulTerminatedTraceWriter(region);
                void write(byte[] bytes)
                {
                    if (ring) ringWriter.Write(bytes);
                    else nulWriter.Write(bytes);
                }
                TraceFollower follower = Follow(region);
                string[] lines = [.. bodies.Select((b, i) => $"{i}:{b}")];
                byte[] stream = Encoding.ASCII.GetBytes(string.Concat(lines.Select(l => l + "\n")));
                var seen = new List<TraceLine>();
                int at = 0, c = 0;
                while (at < stream.Length)
                {
                    int chunk = Math.Min(1 + cuts[c++ % cuts.Count] % (length - 2), stream.Length - at);
                    write(stream[at..(at + chunk)]);
                    at += chunk;
                    seen.AddRange(follower.Poll());
                }
                string[] got = Texts(seen);
                Assert.That(seen.All(l => l.Kind == TraceLineKind.Line), Is.True, string.Join(" | ", got));
                // The ring writer's last bytes may equal what they overwrote: then they show with its next write, so
                // its last line may still be waiting. Everything before it is there, in order, once.
                int expected = ring && got.Length == lines.Length - 1 ? lines.Length - 1 : lines.Length;
                Assert.That(got, Is.EqualTo(lines[..expected]), $"{(ring ? "ring" : "NUL-terminated")} buffer of {length}");
            }, iter: 300);
    }

    [Test]
    public void ARebootThatClearsTheBufferIsARestartAndTheUnfinishedLineIsKept()
    {
        IoRegion region = Buffer(128);
        var writer = new NulTerminatedTraceWriter(region);
        TraceFollower follower = Follow(region);
        writer.Write("up\nkernel panic: bad th");
        Assert.That(Texts(Poll(follower)), Is.EqualTo(new[] { "up" }));
        region.Clear(0, 128); // the loader zeroes .bss for the new run
        writer = new NulTerminatedTraceWriter(region);
        writer.Write("booted again\n");
        Assert.That(Texts(Poll(follower)), Is.EqualTo(new[] { "kernel panic: bad th", "<restart>", "booted again" }));
        Assert.That(follower.Restarts, Is.EqualTo(1));
    }

    [Test]
    public void ARebootThatRewritesFromTheStartWithoutClearingIsARestart()
    {
        IoRegion region = Buffer(128);
        var writer = new NulTerminatedTraceWriter(region);
        TraceFollower follower = Follow(region);
        writer.Write("first run line one\nfirst run line two\n");
        Poll(follower);
        writer = new NulTerminatedTraceWriter(region); // a new run writes from offset 0 over the old text
        writer.Write("second run\n");
        Assert.That(Texts(Poll(follower)), Is.EqualTo(new[] { "<restart>", "second run" }));
    }

    [Test]
    public void AWrappedRingThatGetsANulAgainIsARestart()
    {
        IoRegion region = Buffer(40);
        var writer = new RingTraceWriter(region);
        TraceFollower follower = Follow(region);
        for (int i = 0; i < 6; i++)
        {
            writer.Write($"ring line {i}\n");
            Poll(follower);
        }
        region.Clear(0, 40);
        new RingTraceWriter(region).Write("fresh\n");
        Assert.That(Texts(Poll(follower)), Is.EqualTo(new[] { "<restart>", "fresh" }));
    }

    [Test]
    public void GarbageIsEscapedAndAUtf8CharacterSplitBetweenPollsIsDecodedWhole()
    {
        IoRegion region = Buffer(256);
        var writer = new NulTerminatedTraceWriter(region);
        TraceFollower follower = Follow(region);
        writer.Write([0xff, 0xfe, (byte)'o', (byte)'k', 0x1b, (byte)'[', (byte)'3', (byte)'1', (byte)'m', (byte)'\t', (byte)'\\', (byte)'\n']);
        writer.Write("forged\rline \u202e reversed\n");
        writer.Write([(byte)'c', (byte)'a', (byte)'f', 0xc3]);
        Assert.That(Texts(Poll(follower)), Is.EqualTo(new[] { @"\xff\xfeok\x1b[31m\t\\", @"forged\rline \u202e reversed" }));
        writer.Write([0xa9, (byte)'\n']);
        Assert.That(Texts(Poll(follower)), Is.EqualTo(new[] { "café" }));
    }

    [Test]
    public void ALineLongerThanTheBufferComesOutInPiecesOfTheBuffersLength()
    {
        IoRegion region = Buffer(64);
        var writer = new RingTraceWriter(region);
        TraceFollower follower = Follow(region);
        string line = string.Concat(Enumerable.Range(0, 200).Select(i => (char)('a' + i % 26)));
        var seen = new List<TraceLine>();
        for (int at = 0; at < line.Length; at += 40)
        {
            writer.Write(line.Substring(at, Math.Min(40, line.Length - at)));
            seen.AddRange(follower.Poll());
        }
        writer.Write("\nnext\n");
        seen.AddRange(follower.Poll());
        Assert.That(seen.Select(l => l.Kind), Is.EqualTo(new[] { TraceLineKind.Cut, TraceLineKind.Cut, TraceLineKind.Cut, TraceLineKind.Line, TraceLineKind.Line }));
        Assert.That(seen.Take(3).Select(l => l.Text.Length), Is.All.EqualTo(64), "pieces as long as the buffer");
        Assert.That(string.Concat(seen.Take(4).Select(l => l.Text)), Is.EqualTo(line));
        Assert.That(seen[4].Text, Is.EqualTo("next"));
    }

    [Test]
    public void ALineLongerThanTheCapIsCutAndANewlineRightAfterACutMakesNoEmptyLine()
    {
        IoRegion region = Buffer(1024);
        var writer = new NulTerminatedTraceWriter(region);
        TraceFollower follower = Follow(region, maxLine: 16);
        writer.Write("0123456789abcdef0123456789abcdef\nshort\n");
        Assert.That(Texts(Poll(follower)), Is.EqualTo(new[] { "0123456789abcdef<cut>", "0123456789abcdef<cut>", "short" }));
        Assert.That(follower.MaxLineBytes, Is.EqualTo(16));
    }

    [Test]
    public void AnUnfinishedLineAsLongAsTheBufferIsHandedOutWithoutWaiting()
    {
        IoRegion region = Buffer(32);
        region.GetSpan(0, 32).Fill((byte)'z'); // full, no NUL, no newline
        TraceFollower follower = Follow(region);
        Assert.That(Texts(Poll(follower)), Is.EqualTo(new[] { new string('z', 32) + "<cut>" }));
        Assert.That(follower.PendingBytes, Is.Zero);
    }

    [Test]
    public void ARingLineWhoseEndRewritesTheSameBytesComesOnePollLateNotLost()
    {
        IoRegion region = Buffer(16);
        var writer = new RingTraceWriter(region);
        TraceFollower follower = Follow(region);
        writer.Write("aaaa\nbbbb\ncccc\n."); // 16 bytes: the ring is full
        Assert.That(Texts(Poll(follower)), Is.EqualTo(new[] { "aaaa", "bbbb", "cccc" }));
        writer.Write("\nxya\n"); // over "aaaa\n": its last 2 bytes ("a\n") equal what was there, so they do not show yet
        Assert.That(Texts(Poll(follower)), Is.EqualTo(new[] { "." }));
        Assert.That(follower.PendingBytes, Is.EqualTo(2), "\"xy\" waits");
        writer.Write("q\n");
        Assert.That(Texts(Poll(follower)), Is.EqualTo(new[] { "xya", "q" }));
    }

    [Test]
    public void AHostileBufferCostsAtMostOneBuffersWorthOfTextPerPollAndBoundedMemory()
    {
        IoRegion region = Buffer(512);
        TraceFollower follower = Follow(region, maxLine: 100);
        Gen.Select(Gen.Byte[1, 255].Array[512], Gen.Bool, Gen.Int[0, 511]).Sample((bytes, putNul, nulAt) =>
        {
            for (int i = 0; i < bytes.Length; i++) if (bytes[i] == (byte)'G') bytes[i] = (byte)'H';
            if (putNul) bytes[nulAt] = 0;
            region.Write(0, bytes);
            IReadOnlyList<TraceLine> lines = follower.Poll();
            // Each byte shows as at most 4 characters (\xNN); the held line adds at most 100 bytes from before.
            Assert.That(lines.Sum(l => l.Text.Length), Is.LessThanOrEqualTo(4 * (512 + 100)), "no more text than one buffer's worth");
            Assert.That(lines.Count, Is.LessThanOrEqualTo(512 + 2));
            Assert.That(lines.Where(l => l.Kind != TraceLineKind.Restart).Select(l => l.Text), Has.None.Contains("G"), "nothing from outside the buffer");
            Assert.That(lines.SelectMany(l => l.Text), Has.None.Matches<char>(ch => char.IsControl(ch)), "control characters escaped");
            Assert.That(follower.PendingBytes, Is.LessThanOrEqualTo(100));
        }, iter: 500, threads: 1); // one follower sees the samples one after another
    }

    [Test]
    public void APollThatFindsNothingNewAllocatesNothing()
    {
        foreach (bool ring in new[] { false, true })
        {
            IoRegion region = Buffer(1024);
            TraceFollower follower = Follow(region);
            if (ring) new RingTraceWriter(region).Write(string.Concat(Enumerable.Repeat("a wrapped ring of text\n", 60)));
            else new NulTerminatedTraceWriter(region).Write("a line\nand an unfinished one");
            follower.Poll();
            follower.Poll();
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 1000; i++) follower.Poll();
            Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero, ring ? "wrapped ring" : "NUL-terminated text");
        }
    }

    [Test]
    public void ResetForgetsWhatWasSeen()
    {
        IoRegion region = Buffer(64);
        var writer = new NulTerminatedTraceWriter(region);
        TraceFollower follower = Follow(region);
        writer.Write("one\ntw");
        Poll(follower);
        follower.Reset();
        Assert.That(follower.PendingBytes, Is.Zero);
        Assert.That(Texts(Poll(follower)), Is.EqualTo(new[] { "one" }), "the text again, from the start");
    }
}

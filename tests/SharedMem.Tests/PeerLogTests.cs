using System.Text;
using AmpCan.SharedMem.Diagnostics;

namespace AmpCan.Tests.SharedMem;

/// <summary>What a peer's text and a peer's flood of events can do to our log: nothing.</summary>
public class PeerLogTests
{
    [Test]
    public void ControlCharactersEscapesAndBadUtf8BecomeVisible()
    {
        byte[] hostile = [.. "ok"u8, 0x1b, .. "[31mred"u8, (byte)'\n', .. "fake line"u8, 0xff, 0xc3, (byte)'\\'];
        Assert.That(PeerText.Escape(hostile), Is.EqualTo(@"ok\x1b[31mred\nfake line\xff\xc3\\"));
        Assert.That(PeerText.Escape("caf\u00e9 \u202etxt.exe"), Is.EqualTo(@"café \u202etxt.exe"), "printable text stays, a bidi override does not");
        Assert.That(PeerText.Escape("\u0085x"), Is.EqualTo(@"\x85x"), "C1 controls too");
    }

    [Test]
    public void LongTextIsCut()
    {
        string s = PeerText.Escape(Encoding.ASCII.GetBytes(new string('a', 1000)), maxChars: 10);
        Assert.That(s, Is.EqualTo("aaaaaaaaaa…"));
    }

    [Test]
    public void AFloodIsAdmittedInBurstsAndTheRestCounted()
    {
        var limit = new RateLimitedLog(burst: 3, interval: TimeSpan.FromHours(1));
        int admitted = 0;
        for (int i = 0; i < 10_000; i++) if (limit.ShouldLog(out _)) admitted++;
        Assert.That(admitted, Is.EqualTo(3));
        Assert.That(limit.TotalSuppressed, Is.EqualTo(9_997));
    }

    [Test]
    public void TheNextAdmittedLineCarriesTheSuppressedCount()
    {
        var limit = new RateLimitedLog(burst: 1, interval: TimeSpan.FromMilliseconds(1));
        Assert.That(limit.ShouldLog(out long s0), Is.True);
        Assert.That(s0, Is.Zero);
        int dropped = 0;
        long carried;
        while (!limit.ShouldLog(out carried))
            if (++dropped > 100_000_000) Assert.Fail("the window never ended");
        Assert.That(carried, Is.EqualTo(dropped), "the first line of the new window reports what the old one dropped");
        Assert.That(limit.TotalSuppressed, Is.EqualTo(dropped));
    }
}

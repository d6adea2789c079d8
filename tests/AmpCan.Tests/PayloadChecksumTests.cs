using AmpCan.Host.Bench;
using AmpCan.Host.Peers;

namespace AmpCan.Tests.Host;

/// <summary>The checksum the benchmarks and the sink peer use to prove that every byte of every payload arrived.</summary>
public class PayloadChecksumTests
{
    private static byte[] RandomPayload(int length, int seed)
    {
        byte[] p = new byte[length];
        new Random(seed).NextBytes(p);
        return p;
    }

    [TestCase(16)]
    [TestCase(496)]
    [TestCase(1001)]
    public void EveryBitOfEveryByteCounts(int length)
    {
        byte[] p = RandomPayload(length, length);
        ulong original = PayloadChecksum.Of(p);
        var missed = new List<string>();
        for (int i = 0; i < length; i++)
        {
            for (int bit = 0; bit < 8; bit++)
            {
                p[i] ^= (byte)(1 << bit);
                if (PayloadChecksum.Of(p) == original) missed.Add($"byte {i} bit {bit}");
                p[i] ^= (byte)(1 << bit);
            }
        }
        Assert.That(missed, Is.Empty, "a change the checksum did not see");
    }

    [Test]
    public void SwappingAnyTwoWordsChangesIt()
    {
        byte[] p = RandomPayload(496, 3);
        ulong original = PayloadChecksum.Of(p);
        int words = p.Length / 8;
        var missed = new List<string>();
        for (int a = 0; a < words; a++)
        {
            for (int b = a + 1; b < words; b++)
            {
                byte[] q = (byte[])p.Clone();
                p.AsSpan(a * 8, 8).CopyTo(q.AsSpan(b * 8));
                p.AsSpan(b * 8, 8).CopyTo(q.AsSpan(a * 8));
                if (PayloadChecksum.Of(q) == original) missed.Add($"words {a} and {b}");
            }
        }
        Assert.That(missed, Is.Empty, "a reordering the checksum did not see");
    }

    [Test]
    public void ItDependsOnTheLengthNotOnlyOnTheBytes()
    {
        Assert.That(PayloadChecksum.Of(new byte[16]), Is.Not.EqualTo(PayloadChecksum.Of(new byte[24])), "trailing zeros count");
        Assert.That(PayloadChecksum.Of([]), Is.Not.EqualTo(PayloadChecksum.Of([0])));
    }

    [Test]
    public void SplittingThePayloadDoesNotChangeIt()
    {
        byte[] p = RandomPayload(5000, 5);
        ulong whole = PayloadChecksum.Of(p);
        var random = new Random(6);
        for (int trial = 0; trial < 200; trial++)
        {
            var c = new PayloadChecksum();
            for (int at = 0; at < p.Length;)
            {
                int piece = Math.Min(p.Length - at, random.Next(0, 70));
                c.Append(p.AsSpan(at, piece));
                at += piece;
            }
            Assert.That(c.Value, Is.EqualTo(whole), $"trial {trial}");
        }
    }

    [TestCase(8)]
    [TestCase(16)]
    [TestCase(31)]
    [TestCase(496)]
    [TestCase(1000)]
    public void ASenderKnowsTheChecksumOfEachPayloadWithoutReadingIt(int length)
    {
        var payloads = new SequencedPayloads(length);
        byte[] buffer = new byte[length];
        foreach (ulong seq in new ulong[] { 1, 2, 3, 4, 5, 6, 255, 256, 65_537, 1UL << 40, ulong.MaxValue - 3 })
        {
            payloads.Fill(buffer, seq);
            Assert.That(payloads.Checksum(seq), Is.EqualTo(PayloadChecksum.Of(buffer)), $"payload {seq} filled");
            Assert.That(payloads.Checksum(seq), Is.EqualTo(PayloadChecksum.Of(payloads.Stamp(seq))), $"payload {seq} stamped");
        }
    }

    [Test]
    public void ConsecutivePayloadsDifferInEveryWordAndMatchOnlyThemselves()
    {
        var payloads = new SequencedPayloads(496);
        byte[] a = new byte[496], b = new byte[496];
        for (ulong seq = 1; seq < 20; seq++)
        {
            payloads.Fill(a, seq);
            payloads.Fill(b, seq + 1);
            for (int w = 0; w < 496 / 8; w++)
                Assert.That(a.AsSpan(w * 8, 8).SequenceEqual(b.AsSpan(w * 8, 8)), Is.False, $"word {w} of payloads {seq} and {seq + 1}");
            Assert.That(payloads.Matches(a, seq), Is.True);
            Assert.That(payloads.Matches(b, seq), Is.False, "the next payload");
            Assert.That(payloads.Matches(a.AsSpan(0, 495), seq), Is.False, "a short payload");
            a[495] ^= 1;
            Assert.That(payloads.Matches(a, seq), Is.False, "a changed last byte");
        }
    }

    [Test]
    public void ADigestSeesOrderCountAndLength()
    {
        var empty = new StreamDigest();
        StreamDigest ab = empty.Add(1, 8).Add(2, 8);
        Assert.That(empty.Add(2, 8).Add(1, 8), Is.Not.EqualTo(ab), "order");
        Assert.That(ab.Add(0, 0), Is.Not.EqualTo(ab), "one more payload, even empty");
        Assert.That(empty.Add(1, 8).Add(2, 9).Bytes, Is.Not.EqualTo(ab.Bytes), "bytes");
    }
}

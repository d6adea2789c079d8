using AmpCan.VirtioCan;

namespace AmpCan.Tests.VirtioCan;

/// <summary>
/// Frames as <c>candump -L</c> prints them. The expected lines are what can-utils 2023.03's candump printed in the
/// virtio-VM guest for the same frames sent with cansend (run-guest.sh --can, 2026-12-01).
/// </summary>
public class CandumpLineTests
{
    private static string Line(in CanFrame f, long micros = 1_796_155_460_584_459)
    {
        Span<char> buf = stackalloc char[CandumpLine.MaxLength(4)];
        return new string(buf[..CandumpLine.Format(buf, micros, "can0", f)]);
    }

    private static CanFrame Frame(uint id, CanFrameKind kind, params byte[] data)
    {
        var f = new CanFrame { Id = id, Kind = kind, Length = (byte)data.Length };
        data.CopyTo(f.Payload);
        return f;
    }

    [Test]
    public void ClassicStandardAndExtendedFrames()
    {
        Assert.That(Line(Frame(0x123, CanFrameKind.None, 0xDE, 0xAD, 0xBE, 0xEF)), Is.EqualTo("(1796155460.584459) can0 123#DEADBEEF"));
        Assert.That(Line(Frame(0x12345678, CanFrameKind.Extended, 0x11), 1_796_155_460_644_048), Is.EqualTo("(1796155460.644048) can0 12345678#11"));
    }

    [Test]
    public void RemoteRequestsWithAndWithoutALength()
    {
        Assert.That(Line(new CanFrame { Id = 0x7FF, Kind = CanFrameKind.Remote }), Does.EndWith(" can0 7FF#R"));
        Assert.That(Line(new CanFrame { Id = 0x456, Kind = CanFrameKind.Remote, Length = 3 }), Does.EndWith(" can0 456#R3"));
    }

    [Test]
    public void FdFramesWithTheirFlagsNibble()
    {
        byte[] data = Convert.FromHexString("000102030405060708090A0B");
        Assert.That(Line(Frame(0x1FFFFFFF, CanFrameKind.Extended | CanFrameKind.Fd, data)), Does.EndWith(" can0 1FFFFFFF##4000102030405060708090A0B"));
        Assert.That(Line(Frame(0x1FFFFFFF, CanFrameKind.Extended | CanFrameKind.Fd | CanFrameKind.BitRateSwitch, data)), Does.EndWith(" can0 1FFFFFFF##5000102030405060708090A0B"));
        Assert.That(Line(Frame(0x321, CanFrameKind.Fd)), Does.EndWith(" can0 321##4"));
    }

    // Not seen here (the bench's back end sends no error frames): can-utils prints an error frame's can_id with
    // CAN_ERR_FLAG as 8 digits, as it prints an extended identifier.
    [Test]
    public void ErrorFramesShowTheErrorFlagInTheirIdentifier()
    {
        Assert.That(Line(Frame(0x40, CanFrameKind.Error, 0, 0, 0, 0, 0, 0, 0, 0)), Does.EndWith(" can0 20000040#0000000000000000"));
    }

    [Test]
    public void TheTimestampIsZeroPaddedSecondsAndMicroseconds()
    {
        Assert.That(Line(Frame(1, CanFrameKind.None), 1_000_007), Is.EqualTo("(0000000001.000007) can0 001#"));
    }

    [Test]
    public void ALongestLineFitsItsBoundAndAShortBufferIsRefused()
    {
        var f = Frame(0x1FFFFFFF, CanFrameKind.Extended | CanFrameKind.Fd | CanFrameKind.BitRateSwitch | CanFrameKind.ErrorStateIndicator, new byte[64]);
        Assert.That(Line(f).Length, Is.EqualTo(CandumpLine.MaxLength(4)));
        Assert.That(() => CandumpLine.Format(new char[10], 0, "can0", f), Throws.ArgumentException);
    }

    private static CanFrame Parsed(string text)
    {
        Assert.That(CandumpLine.TryParseFrame(text, out CanFrame f), Is.True, text);
        return f;
    }

    [Test]
    public void EveryKindOfFrameFormattedParsesBackTheSame()
    {
        CanFrame[] frames =
        [
            Frame(0x123, CanFrameKind.None, 0xDE, 0xAD, 0xBE, 0xEF),
            Frame(0x000, CanFrameKind.None),
            Frame(0x7FF, CanFrameKind.None, 1, 2, 3, 4, 5, 6, 7, 8),
            Frame(0x12345678, CanFrameKind.Extended, 0x11),
            new CanFrame { Id = 0x7FF, Kind = CanFrameKind.Remote },
            new CanFrame { Id = 0x456, Kind = CanFrameKind.Remote, Length = 3 },
            new CanFrame { Id = 0x1ABCDEF0, Kind = CanFrameKind.Remote | CanFrameKind.Extended, Length = 8 },
            Frame(0x1FFFFFFF, CanFrameKind.Extended | CanFrameKind.Fd, Convert.FromHexString("000102030405060708090A0B")),
            Frame(0x1FFFFFFF, CanFrameKind.Extended | CanFrameKind.Fd | CanFrameKind.BitRateSwitch, 0xAA),
            Frame(0x001, CanFrameKind.Fd | CanFrameKind.ErrorStateIndicator, 0x55),
            Frame(0x321, CanFrameKind.Fd | CanFrameKind.BitRateSwitch | CanFrameKind.ErrorStateIndicator, Enumerable.Range(0, 64).Select(i => (byte)i).ToArray()),
            Frame(0x321, CanFrameKind.Fd),
            Frame(0x40, CanFrameKind.Error, 0, 0, 0, 0, 0, 0, 0, 0),
        ];
        foreach (CanFrame f in frames)
        {
            string line = Line(f, 1_796_155_460_584_459);
            Assert.That(CandumpLine.TryParse(line, out long micros, out ReadOnlySpan<char> iface, out CanFrame back), Is.True, line);
            Assert.That((micros, iface.ToString()), Is.EqualTo((1_796_155_460_584_459L, "can0")), line);
            Assert.That(back.SameOnWire(f), Is.True, line);
        }
    }

    [Test]
    public void LinesCandumpPrintedParseToTheirFrames()
    {
        Assert.That(CandumpLine.TryParse("(1796155460.584459) can0 123#DEADBEEF", out long micros, out ReadOnlySpan<char> iface, out CanFrame f), Is.True);
        Assert.That((micros, iface.ToString(), f.Id, f.Kind, Convert.ToHexString(f.Payload)), Is.EqualTo((1_796_155_460_584_459L, "can0", 0x123u, CanFrameKind.None, "DEADBEEF")));
        Assert.That(CandumpLine.TryParse("(1796155460.644048) vcan0 12345678#11\n", out _, out iface, out f), Is.True, "with its newline");
        Assert.That((iface.ToString(), f.Id, f.Kind, f.Length), Is.EqualTo(("vcan0", 0x12345678u, CanFrameKind.Extended, (byte)1)));
        Assert.That(CandumpLine.TryParse("(1796155460.644048) can0 1FFFFFFF##5000102 R", out _, out _, out f), Is.True, "candump -x's direction is ignored");
        Assert.That((f.Kind, f.Length), Is.EqualTo((CanFrameKind.Extended | CanFrameKind.Fd | CanFrameKind.BitRateSwitch, (byte)3)));
    }

    [Test]
    public void CansendSyntaxIsReadToo()
    {
        Assert.That(Convert.ToHexString(Parsed("123#DE.AD.be.ef").Payload), Is.EqualTo("DEADBEEF"), "separators, lower case");
        CanFrame raw = Parsed("1F334455#1122334455667788_B");
        Assert.That((raw.Kind, raw.Length), Is.EqualTo((CanFrameKind.Extended, (byte)8)), "a raw DLC is read past");
        Assert.That(Parsed("123#R8_9").Length, Is.EqualTo(8));
        Assert.That(Parsed("123#r").IsRemote, Is.True);
        Assert.That(Parsed("213##311").Kind, Is.EqualTo(CanFrameKind.Fd | CanFrameKind.BitRateSwitch | CanFrameKind.ErrorStateIndicator));
    }

    [TestCase("", TestName = "an empty line")]
    [TestCase("DROPCOUNT: dropped 3 CAN frames on 'can0' socket (total drops 3)", TestName = "candump's drop note")]
    [TestCase("(1796155460.584459) can0", TestName = "no frame")]
    [TestCase("(1796155460.584459)can0 123#", TestName = "no blank after the timestamp")]
    [TestCase("(1796155460.58445) can0 123#", TestName = "five digits of microseconds")]
    [TestCase("(17961x5460.584459) can0 123#", TestName = "a letter in the seconds")]
    [TestCase("(1796155460.584459) can0 123#ABC", TestName = "odd hex digits")]
    [TestCase("(1796155460.584459) can0 800#11", TestName = "an 11-bit identifier over 0x7FF")]
    [TestCase("(1796155460.584459) can0 123#112233445566778899", TestName = "nine classic bytes")]
    [TestCase("(1796155460.584459) can0 123#R9", TestName = "a remote length over 8")]
    [TestCase("(1796155460.584459) can0 123##8", TestName = "an undefined FD flag")]
    [TestCase("(1796155460.584459) can0 12345#80:00:11223344#11", TestName = "CAN XL")]
    [TestCase("(1796155460.584459) can0 40000123#", TestName = "the RTR flag among the identifier digits")]
    [TestCase("(1796155460.584459) can0 20000004#R", TestName = "a remote error frame")]
    [TestCase("(1796155460.584459) can0 123#11G2", TestName = "a non-hex digit")]
    public void WhatIsNotACandumpLineIsRefused(string line)
    {
        Assert.That(CandumpLine.TryParse(line, out _, out _, out _), Is.False);
    }

    [Test]
    public void AnFdFrameHoldsAtMost64Bytes()
    {
        string hex64 = new('A', 128);
        Assert.That(Parsed("123##0" + hex64).Length, Is.EqualTo(64));
        Assert.That(CandumpLine.TryParseFrame("123##0" + hex64 + "AA", out _), Is.False);
    }
}

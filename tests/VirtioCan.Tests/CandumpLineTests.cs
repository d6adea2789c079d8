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
}

using AmpCan.VirtioCan;
using AmpCan.VirtioCan.SocketCan;

namespace AmpCan.Tests.VirtioCan;

/// <summary>
/// SocketCAN's raw-socket layouts, as literal bytes written from include/uapi/linux/can.h (7.3.4): struct can_frame
/// (16 bytes), struct canfd_frame (72), struct sockaddr_can (24), both ways.
/// </summary>
public class SocketCanWireTests
{
    private static byte[] Hex(string s) => Convert.FromHexString(s.Replace(" ", ""));

    // cansend can0 123#DEADBEEF: can_id 0x123, len 4, __pad, __res0, len8_dlc 0, data[8] at offset 8.
    private static readonly byte[] Classic = Hex("23010000 04 00 00 00 DEADBEEF00000000");

    // cansend can0 12345678#R5 (extended, remote, DLC 5): EFF and RTR in can_id, no data.
    private static readonly byte[] ExtendedRemote = Hex("785634D2 05 00 00 00 0000000000000000");

    [Test]
    public void AClassicFrameReadsAndWritesAsTheKernelLaysItOut()
    {
        Assert.That(SocketCanFrameCodec.TryRead(Classic, out CanFrame f), Is.True);
        Assert.That((f.Id, f.Kind, f.Length), Is.EqualTo((0x123u, CanFrameKind.None, (byte)4)));
        Assert.That(f.Payload.ToArray(), Is.EqualTo(Hex("DEADBEEF")));
        byte[] back = new byte[SocketCanConstants.FdMtu];
        Assert.That(SocketCanFrameCodec.Write(f, back), Is.EqualTo(16));
        Assert.That(back[..16], Is.EqualTo(Classic));
    }

    [Test]
    public void AnExtendedRemoteFrameCarriesItsFlagsInTheIdentifierAndNoData()
    {
        Assert.That(SocketCanFrameCodec.TryRead(ExtendedRemote, out CanFrame f), Is.True);
        Assert.That((f.Id, f.Kind, f.Length), Is.EqualTo((0x12345678u, CanFrameKind.Extended | CanFrameKind.Remote, (byte)5)));
        Assert.That(f.Payload.Length, Is.Zero);
        byte[] back = new byte[16];
        SocketCanFrameCodec.Write(f, back);
        Assert.That(back, Is.EqualTo(ExtendedRemote));
    }

    [Test]
    public void AnFdFrameHasItsFlagsByteAndSixtyFourDataBytes()
    {
        // cansend can0 1FFFFFFF##3 + 12 bytes: extended, FD with BRS and ESI; FDF is set on write (dual use of canfd_frame).
        byte[] raw = new byte[72];
        Hex("FFFFFF9F 0C 07 00 00").CopyTo(raw, 0);
        Hex("00112233445566778899AABB").CopyTo(raw, 8);
        Assert.That(SocketCanFrameCodec.TryRead(raw, out CanFrame f), Is.True);
        Assert.That((f.Id, f.Length), Is.EqualTo((0x1FFFFFFFu, (byte)12)));
        Assert.That(f.Kind, Is.EqualTo(CanFrameKind.Extended | CanFrameKind.Fd | CanFrameKind.BitRateSwitch | CanFrameKind.ErrorStateIndicator));
        Assert.That(f.Payload.ToArray(), Is.EqualTo(Hex("00112233445566778899AABB")));
        byte[] back = new byte[72];
        Assert.That(SocketCanFrameCodec.Write(f, back), Is.EqualTo(72));
        Assert.That(back, Is.EqualTo(raw));
    }

    [Test]
    public void AnErrorFrameKeepsItsClassesAsTheIdentifier()
    {
        // A bus-off report: CAN_ERR_FLAG | CAN_ERR_BUSOFF (0x40), eight data bytes of detail.
        byte[] raw = Hex("40000020 08 00 00 00 0000000000000000");
        Assert.That(SocketCanFrameCodec.TryRead(raw, out CanFrame f), Is.True);
        Assert.That((f.Id, f.Kind), Is.EqualTo((0x40u, CanFrameKind.Error)));
    }

    [TestCase(15)]
    [TestCase(71)]
    [TestCase(73)]
    public void ReadsOfAnyOtherSizeAreRefused(int size) => Assert.That(SocketCanFrameCodec.TryRead(new byte[size], out _), Is.False);

    [Test]
    public void ImpossibleLengthsAreRefusedBothWays()
    {
        byte[] raw = (byte[])Classic.Clone();
        raw[4] = 9;
        Assert.That(SocketCanFrameCodec.TryRead(raw, out _), Is.False, "a classic frame of 9 bytes");
        var fd = new CanFrame { Id = 1, Kind = CanFrameKind.Fd | CanFrameKind.Remote, Length = 0 };
        Assert.That(() => SocketCanFrameCodec.Write(fd, new byte[72]), Throws.ArgumentException);
        var classic = new CanFrame { Id = 1, Length = 9 };
        Assert.That(() => SocketCanFrameCodec.Write(classic, new byte[16]), Throws.ArgumentException);
        Assert.That(() => SocketCanFrameCodec.Write(new CanFrame { Kind = CanFrameKind.Fd }, new byte[16]), Throws.ArgumentException);
    }

    [Test]
    public void SockaddrCanIsFamilyPaddingIndexAndAZeroUnion()
    {
        byte[] addr = new byte[24];
        Array.Fill(addr, (byte)0xEE);
        SockaddrCan.Write(addr, 3);
        Assert.That(addr, Is.EqualTo(Hex("1D00 0000 03000000 00000000000000000000000000000000")));
    }
}

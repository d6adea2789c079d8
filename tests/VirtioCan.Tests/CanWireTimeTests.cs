using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;

namespace AmpCan.Tests.VirtioCan;

/// <summary>
/// A frame's time on the wire, without stuff bits. Expected figures: ISO 11898-1 frame formats as tabulated in
/// ../shared/reference/peers-and-figures.md §6.2 (classic 111 and 131 bits; FD-64 at 1/5 Mbit/s 139.8 µs, FD-8 49.2 µs).
/// </summary>
public class CanWireTimeTests
{
    private static CanFrame Frame(CanFrameKind kind, byte length) => new() { Id = 0x123, Kind = kind, Length = length };

    [Test]
    public void AClassicEightByteFrameIs111BitsStandardAnd131Extended()
    {
        Assert.That(CanWireTime.NominalBits(Frame(CanFrameKind.None, 8)), Is.EqualTo(111));
        Assert.That(CanWireTime.NominalBits(Frame(CanFrameKind.Extended, 8)), Is.EqualTo(131));
        Assert.That(CanWireTime.NominalBits(Frame(CanFrameKind.None, 0)), Is.EqualTo(47));
        Assert.That(CanWireTime.DataBits(Frame(CanFrameKind.None, 8)), Is.Zero);
        Assert.That(CanWireTime.Nanoseconds(Frame(CanFrameKind.None, 8), 1_000_000), Is.EqualTo(111_000), "9,009 frames/s at 1 Mbit/s");
        Assert.That(CanWireTime.Nanoseconds(Frame(CanFrameKind.None, 8), 500_000), Is.EqualTo(222_000));
    }

    [Test]
    public void ARemoteRequestCarriesNoDataWhateverItsLength()
    {
        Assert.That(CanWireTime.NominalBits(Frame(CanFrameKind.Remote, 8)), Is.EqualTo(47));
        Assert.That(CanWireTime.NominalBits(Frame(CanFrameKind.Remote | CanFrameKind.Extended, 4)), Is.EqualTo(67));
    }

    [Test]
    public void AnFdFrameThatSwitchesSpendsItsDataPhaseAtTheDataRate()
    {
        CanFrame fd64 = Frame(CanFrameKind.Fd | CanFrameKind.BitRateSwitch, 64), fd8 = Frame(CanFrameKind.Fd | CanFrameKind.BitRateSwitch, 8);
        Assert.That((CanWireTime.NominalBits(fd64), CanWireTime.DataBits(fd64)), Is.EqualTo((30, 37 + 512)), "CRC-21 beyond 16 bytes");
        Assert.That((CanWireTime.NominalBits(fd8), CanWireTime.DataBits(fd8)), Is.EqualTo((30, 32 + 64)), "CRC-17 up to 16 bytes");
        Assert.That(CanWireTime.Nanoseconds(fd64, 1_000_000, 5_000_000), Is.EqualTo(139_800));
        Assert.That(CanWireTime.Nanoseconds(fd8, 1_000_000, 5_000_000), Is.EqualTo(49_200));
        Assert.That(CanWireTime.NominalBits(Frame(CanFrameKind.Fd | CanFrameKind.BitRateSwitch | CanFrameKind.Extended, 64)), Is.EqualTo(49));
    }

    [Test]
    public void AnFdFrameThatDoesNotSwitchIsAllAtTheNominalRate()
    {
        CanFrame fd64 = Frame(CanFrameKind.Fd, 64);
        Assert.That((CanWireTime.NominalBits(fd64), CanWireTime.DataBits(fd64)), Is.EqualTo((30 + 37 + 512, 0)));
        Assert.That(CanWireTime.Nanoseconds(fd64, 1_000_000, 5_000_000), Is.EqualTo(579_000));
    }

    [Test]
    public void AnFdLengthBetweenTheValidOnesGoesOutPaddedToTheNext()
    {
        Assert.That(CanWireTime.DataBits(Frame(CanFrameKind.Fd | CanFrameKind.BitRateSwitch, 10)), Is.EqualTo(32 + 8 * 12));
        Assert.That(CanWireTime.DataBits(Frame(CanFrameKind.Fd | CanFrameKind.BitRateSwitch, 33)), Is.EqualTo(37 + 8 * 48));
    }

    [Test]
    public void AnErrorFrameTakesNoTimeAndTimesRoundUp()
    {
        Assert.That(CanWireTime.Nanoseconds(Frame(CanFrameKind.Error, 8), 1_000_000), Is.Zero);
        Assert.That(CanWireTime.Nanoseconds(Frame(CanFrameKind.None, 0), 3), Is.EqualTo(15_666_666_667L), "47 bits at 3 bit/s, rounded up");
        Assert.That(() => CanWireTime.Nanoseconds(Frame(CanFrameKind.None, 0), 0), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }
}

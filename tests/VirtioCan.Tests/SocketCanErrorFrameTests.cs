using AmpCan.VirtioCan;
using AmpCan.VirtioCan.SocketCan;

namespace AmpCan.Tests.VirtioCan;

/// <summary>
/// SocketCAN error frames and filters as literal bytes written from include/uapi/linux/can/error.h and can.h (6.1):
/// the class bits in can_id (with CAN_ERR_FLAG), the detail bytes, the controller states they imply; struct can_filter.
/// </summary>
public class SocketCanErrorFrameTests
{
    private static byte[] Hex(string s) => Convert.FromHexString(s.Replace(" ", ""));

    private static CanErrorFrame Read(string hex)
    {
        Assert.That(SocketCanFrameCodec.TryRead(Hex(hex), out CanFrame f), Is.True);
        Assert.That(CanErrorFrame.TryRead(f, out CanErrorFrame e), Is.True);
        return e;
    }

    [Test]
    public void TheClassesHaveTheHeadersNumbers()
    {
        uint[] expected = [0x1, 0x2, 0x4, 0x8, 0x10, 0x20, 0x40, 0x80, 0x100, 0x200];
        CanErrorClasses[] classes =
        [
            CanErrorClasses.TxTimeout, CanErrorClasses.LostArbitration, CanErrorClasses.Controller, CanErrorClasses.Protocol,
            CanErrorClasses.Transceiver, CanErrorClasses.NoAcknowledge, CanErrorClasses.BusOff, CanErrorClasses.BusError,
            CanErrorClasses.Restarted, CanErrorClasses.Counters,
        ];
        Assert.That(classes.Select(c => (uint)c), Is.EqualTo(expected));
        byte[] controller = [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40];
        CanControllerProblems[] problems =
        [
            CanControllerProblems.RxOverflow, CanControllerProblems.TxOverflow, CanControllerProblems.RxWarning, CanControllerProblems.TxWarning,
            CanControllerProblems.RxPassive, CanControllerProblems.TxPassive, CanControllerProblems.Active,
        ];
        Assert.That(problems.Select(p => (byte)p), Is.EqualTo(controller));
    }

    [Test]
    public void ABusOffFrameIsBusOff()
    {
        // can_id CAN_ERR_FLAG | CAN_ERR_BUSOFF, len CAN_ERR_DLC (8), no detail.
        CanErrorFrame e = Read("40000020 08 000000 0000000000000000");
        Assert.That(e.Classes, Is.EqualTo(CanErrorClasses.BusOff));
        Assert.That(e.State, Is.EqualTo(CanErrorState.BusOff));
    }

    [Test]
    public void AControllerFrameSaysWarningOrPassiveFromByteOne()
    {
        // CAN_ERR_CRTL | CAN_ERR_CNT, data[1] = TX_PASSIVE, counters tx 128 (data[6]) rx 3 (data[7]).
        CanErrorFrame passive = Read("04020020 08 000000 0020000000008003");
        Assert.That(passive.Classes, Is.EqualTo(CanErrorClasses.Controller | CanErrorClasses.Counters));
        Assert.That(passive.Controller, Is.EqualTo(CanControllerProblems.TxPassive));
        Assert.That(passive.State, Is.EqualTo(CanErrorState.Passive));
        Assert.That((passive.TxErrorCount, passive.RxErrorCount), Is.EqualTo(((byte)128, (byte)3)));

        Assert.That(Read("04000020 08 000000 0004000000000000").State, Is.EqualTo(CanErrorState.Warning), "RX_WARNING");
        Assert.That(Read("04000020 08 000000 0040000000000000").State, Is.EqualTo(CanErrorState.Active), "CRTL_ACTIVE");
        Assert.That(Read("04000020 08 000000 0001000000000000").State, Is.EqualTo(CanErrorState.Unknown), "an RX overflow says nothing of the state");
    }

    [Test]
    public void ARestartIsActiveAgainAndBusOffOutranksTheRest()
    {
        Assert.That(Read("00010020 08 000000 0000000000000000").State, Is.EqualTo(CanErrorState.Active), "CAN_ERR_RESTARTED");
        Assert.That(Read("44000020 08 000000 0020000000000000").State, Is.EqualTo(CanErrorState.BusOff), "bus-off with TX_PASSIVE");
    }

    [Test]
    public void AProtocolFrameCarriesTypeAndLocation()
    {
        // CAN_ERR_PROT, data[2] = CAN_ERR_PROT_STUFF (0x04), data[3] = CAN_ERR_PROT_LOC_ACK (0x19).
        CanErrorFrame e = Read("08000020 08 000000 0000041900000000");
        Assert.That((e.ProtocolType, e.ProtocolLocation), Is.EqualTo(((byte)0x04, (byte)0x19)));
        Assert.That(e.State, Is.EqualTo(CanErrorState.Unknown));
    }

    [Test]
    public void ADataFrameIsNoErrorFrameAndAShortErrorFrameReadsZerosBeyondItsLength()
    {
        Assert.That(SocketCanFrameCodec.TryRead(Hex("40000000 08 000000 0000000000000000"), out CanFrame data), Is.True);
        Assert.That(CanErrorFrame.TryRead(data, out _), Is.False, "0x40 without CAN_ERR_FLAG is a data frame");
        CanErrorFrame shortOne = Read("04000020 01 000000 FF20000000000000");
        Assert.That(shortOne.Controller, Is.EqualTo(CanControllerProblems.Unspecified), "data[1] lies past a length of 1");
    }

    [Test]
    public void FiltersAreIdThenMaskLittleEndian()
    {
        byte[] raw = new byte[3 * CanFilter.Size];
        int n = CanFilter.Write(
            [new CanFilter(0x123, 0x7FF), CanFilter.Exact(0x123), CanFilter.Exact(0x12345678, extended: true) with { Id = CanFilter.Exact(0x12345678, true).Id | CanFilter.InvertFlag }],
            raw);
        Assert.That(n, Is.EqualTo(24));
        Assert.That(raw, Is.EqualTo(Hex(
            "23010000 FF070000" +          // 0x123 : 0x7FF
            "23010000 FF070080" +          // exactly standard 0x123: the mask includes CAN_EFF_FLAG
            "785634B2 FFFFFF9F")));        // inverted extended 0x12345678: CAN_EFF_FLAG | CAN_INV_FILTER in the id
    }

    [Test]
    public void MoreFiltersThanASocketTakesAreRefused()
    {
        var many = new CanFilter[CanFilter.MaxCount + 1];
        Assert.That(() => CanFilter.Write(many, new byte[many.Length * CanFilter.Size]), Throws.ArgumentException.With.Message.Contains("513"));
        Assert.That(() => CanFilter.Write([new CanFilter(1, 1)], new byte[7]), Throws.ArgumentException);
    }
}

using System.Diagnostics;
using AmpCan.SharedMem;
using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;
using AmpCan.Vring;
using static AmpCan.Tests.VirtioCan.VirtioCanDeviceTests;

namespace AmpCan.Tests.VirtioCan;

/// <summary>
/// VIRTIO_CAN_F_LATE_TX_ACK: a transmit is answered only once the bus confirms it with the echo of our own frame,
/// matched in order; STOP and bus-off answer what is still pending NOT_OK; at most the port's limit wait at once.
/// </summary>
public class LateTxAckTests
{
    private const ulong LateTxAck = 1UL << 3;

    private static void WaitUntil(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(10)) throw new AssertionException($"not within 10 s: {what}");
            Thread.Yield();
        }
    }

    // A control request answered means the device finished every pass before it: any answer it gave to a transmit is published.
    private static void Settle(CanLink link) => Assert.That(link.Request(2, StartRequest), Is.EqualTo(0));


    [Test]
    public void ATransmitIsAnsweredWhenItsEchoComesBackAndOneTheBusSkippedFails()
    {
        var port = new HeldEchoPort();
        using var link = new CanLink(ClassicFeature | LateTxAck, port);
        Assert.That(link.Request(2, StartRequest), Is.EqualTo(0));
        IoRegion a1 = link.Submit(TxMessage(0x101, 0, 1), 101), a2 = link.Submit(TxMessage(0x102, 0, 2), 102), a3 = link.Submit(TxMessage(0x103, 0, 3), 103);
        WaitUntil(() => port.SentCount == 3, "all three handed to the bus");
        Assert.That(port.ConfirmsTransmits, Is.True, "LATE_TX_ACK asks the port for echoes");
        Settle(link);
        Assert.That(link.Queues[0].TryGetUsed(out _), Is.False, "nothing answered before the bus confirmed it");
        Assert.That(link.Device.Unconfirmed, Is.EqualTo(3));

        port.Confirm(0);
        UsedBuffer u = link.WaitUsed(0);
        Assert.That((u.Token, a1.ReadU8(0)), Is.EqualTo((101, (byte)0)), "the first, OK");
        Settle(link);
        Assert.That(link.Queues[0].TryGetUsed(out _), Is.False, "only the confirmed one");

        port.Confirm(2); // the second never made it onto the bus
        UsedBuffer second = link.WaitUsed(0), third = link.WaitUsed(0);
        Assert.That((second.Token, a2.ReadU8(0)), Is.EqualTo((102, (byte)1)), "skipped by the echo of a later frame: NOT_OK");
        Assert.That((third.Token, a3.ReadU8(0)), Is.EqualTo((103, (byte)0)));
        Assert.That(link.Device.Unconfirmed, Is.Zero);
    }

    [Test]
    public void StopAnswersEveryPendingTransmitNotOkAndTheirLateEchoesChangeNothing()
    {
        var port = new HeldEchoPort();
        using var link = new CanLink(ClassicFeature | LateTxAck, port);
        Assert.That(link.Request(2, StartRequest), Is.EqualTo(0));
        IoRegion a1 = link.Submit(TxMessage(0x101, 0, 1), 1), a2 = link.Submit(TxMessage(0x102, 0, 2), 2);
        WaitUntil(() => port.SentCount == 2, "both handed to the bus");
        Assert.That(link.Request(2, StopRequest), Is.EqualTo(0));
        Assert.That((link.WaitUsed(0).Token, link.WaitUsed(0).Token), Is.EqualTo((1, 2)));
        Assert.That((a1.ReadU8(0), a2.ReadU8(0)), Is.EqualTo(((byte)1, (byte)1)), "cancelled by STOP: NOT_OK");
        port.Confirm(0);
        port.Confirm(1);
        WaitUntil(() => link.Device.StrayEchoes == 2, "the late echoes taken");
        Assert.That(link.Queues[0].TryGetUsed(out _), Is.False, "nothing answered twice");
    }

    [Test]
    public void AnErrorFrameReportingBusOffCancelsPendingTransmitsAndSetsTheStatusBit()
    {
        var port = new HeldEchoPort();
        using var link = new CanLink(ClassicFeature | LateTxAck, port);
        Assert.That(link.Request(2, StartRequest), Is.EqualTo(0));
        IoRegion a = link.Submit(TxMessage(0x101, 0, 1), 7);
        WaitUntil(() => port.SentCount == 1, "handed to the bus");
        port.Deliver(new CanFrame { Id = 0x40, Kind = CanFrameKind.Error, Length = 8 }); // CAN_ERR_BUSOFF
        Assert.That(link.WaitUsed(0).Token, Is.EqualTo(7));
        Assert.That(a.ReadU8(0), Is.EqualTo(1), "bus-off: NOT_OK");
        byte[] status = new byte[2];
        link.Device.ReadConfig(0, status);
        Assert.That((status[0], link.Device.IsStarted), Is.EqualTo(((byte)1, false)));
    }

    [Test]
    public void NoMoreThanThePortsLimitWaitAtOnceTheRestStayInTheRing()
    {
        var port = new HeldEchoPort(maxUnconfirmed: 2);
        using var link = new CanLink(ClassicFeature | LateTxAck, port);
        Assert.That(link.Request(2, StartRequest), Is.EqualTo(0));
        for (int i = 0; i < 3; i++) link.Submit(TxMessage(0x100 + (uint)i, 0, (byte)i), i);
        WaitUntil(() => port.SentCount == 2, "two handed to the bus");
        Settle(link);
        Assert.That(port.SentCount, Is.EqualTo(2), "the third waits for a free slot");
        port.Confirm(0);
        WaitUntil(() => port.SentCount == 3, "the echo freed a slot");
        Assert.That(port.SentFrame(2).Id, Is.EqualTo(0x102u));
    }

    [Test]
    public void OnTheVirtualBusEveryTransmitIsConfirmedAndReachesTheOtherMember()
    {
        using var link = new CanLink(ClassicFeature | LateTxAck);
        Assert.That(link.Request(2, StartRequest), Is.EqualTo(0));
        for (int i = 0; i < 50; i++)
        {
            Assert.That(link.Request(0, TxMessage(0x200 + (uint)i, 0, (byte)i)), Is.EqualTo(0));
            Assert.That(link.Other.TryReceive(out CanFrame f) && f.Id == 0x200 + (uint)i && !f.IsEcho, Is.True, "delivered before it was answered");
        }
        Assert.That((link.Device.Unconfirmed, link.Device.StrayEchoes, link.Device.Rejected), Is.EqualTo((0, 0L, 0L)));
    }

    [Test]
    public void ALostEchoFailsItsTransmitAndOnlyThatOne()
    {
        var port = new HeldEchoPort();
        using var link = new CanLink(ClassicFeature | LateTxAck, port);
        Assert.That(link.Request(2, StartRequest), Is.EqualTo(0));
        IoRegion a1 = link.Submit(TxMessage(0x101, 0, 1), 1), a2 = link.Submit(TxMessage(0x102, 0, 2), 2);
        WaitUntil(() => port.SentCount == 2, "both handed to the bus");
        CanFrame lost = port.SentFrame(0);
        lost.Kind |= CanFrameKind.Echo | CanFrameKind.Lost;
        port.Deliver(lost); // the bus gave up on the first (its interface went away)
        Assert.That((link.WaitUsed(0).Token, a1.ReadU8(0)), Is.EqualTo((1, (byte)1)), "NOT_OK");
        Settle(link);
        Assert.That(link.Queues[0].TryGetUsed(out _), Is.False, "the second still waits for its own echo");
        port.Confirm(1);
        Assert.That((link.WaitUsed(0).Token, a2.ReadU8(0)), Is.EqualTo((2, (byte)0)));
    }
}

using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;

namespace AmpCan.Tests.Host;

/// <summary>
/// Each mailbox block behind a UIO doorbell: the register writes at open (unmasking the host's receive channels), the
/// kick's register and value, and after an interrupt the acknowledgement at the right offset with the right value,
/// made before the interrupt is re-enabled (the stand-in for /dev/uioN records the line's level at each re-enable;
/// the kernel holds the doorbell's write until it has). A level-triggered source left pending storms: every re-enable
/// fires it again, which the generic doorbell shows and the acknowledging one does not.
/// </summary>
public class MailboxAcknowledgeTests
{
    private const int Polls = 50;

    private static int Wakes(UioDoorbell bell)
    {
        int wakes = 0;
        for (int i = 0; i < Polls; i++) if (bell.Acknowledge()) wakes++;
        return wakes;
    }

    [Test]
    public void Stm32IpccClearsTheChannelFlagThroughC1scrBeforeTheInterruptIsReEnabled()
    {
        var ipcc = new IpccModel();
        using MappedRegion map = ipcc.Map;
        using var uio = UioInterruptStandIn.Mount(ipcc.Line);
        using var bell = new UioDoorbell(uio.DevicePath, new MailboxRegister(ipcc.Registers, Stm32Ipcc.Kick(1).Offset, Stm32Ipcc.Kick(1).Value),
            new Stm32Ipcc(ipcc.Registers, 0b11));
        Assert.Multiple(() =>
        {
            Assert.That(ipcc.Registers.ReadU32(Stm32Ipcc.C1MR), Is.EqualTo(0xfffffffcu), "channels 0 and 1 unmasked in C1MR, the rest as they were");
            Assert.That(ipcc.Registers.ReadU32(Stm32Ipcc.C1CR) & 1, Is.EqualTo(1u), "C1CR.RXOIE set");
        });

        ipcc.RemoteKicks(0);
        uio.Raise();
        Assert.That(uio.Events, Is.EqualTo(1));
        Assert.That(bell.Acknowledge(), Is.True, "the interrupt was read");
        Assert.Multiple(() =>
        {
            Assert.That(ipcc.HostWrites, Is.EqualTo(new[] { (Stm32Ipcc.C1SCR, 1u) }), "CH0C: bit 0 of C1SCR at 0x8, nothing else");
            Assert.That(uio.LineAtEnable[^1], Is.False, "the flag was cleared before the interrupt was re-enabled");
            Assert.That(Wakes(bell), Is.Zero, "no further interrupt: the source is quiet");
        });

        bell.Ring(1);
        Assert.That(ipcc.ToRemote, Is.EqualTo(0b10u), "the kick on channel 1 is CH1S, bit 17 of C1SCR");
        Assert.That(ipcc.HostWrites[^1], Is.EqualTo((Stm32Ipcc.C1SCR, 1u << 17)));
    }

    [Test]
    public void ALevelSourceLeftPendingStormsAndAnAcknowledgedOneWakesOnce()
    {
        var ipcc = new IpccModel();
        using MappedRegion map = ipcc.Map;
        using var uio = UioInterruptStandIn.Mount(ipcc.Line);
        // The generic doorbell (today's "uio" kind) only reads and re-enables; the channel is unmasked as the block would be.
        new Stm32Ipcc(ipcc.Registers, 0b1).Enable();
        using (var generic = new UioDoorbell(uio.DevicePath, null))
        {
            ipcc.RemoteKicks(0);
            uio.Raise();
            Assert.That(Wakes(generic), Is.EqualTo(Polls), "the stand-in storms when nothing acknowledges the source (so the next assertion can fail)");
        }
        // The flag is still set from the kick above: opening the acknowledging doorbell takes it, and it never wakes again.
        using var bell = new UioDoorbell(uio.DevicePath, null, new Stm32Ipcc(ipcc.Registers, 0b1));
        long before = uio.Events;
        Assert.That(Wakes(bell), Is.LessThanOrEqualTo(1));
        ipcc.RemoteKicks(0);
        uio.Raise();
        Assert.Multiple(() =>
        {
            Assert.That(Wakes(bell), Is.EqualTo(1), "one kick, one wake");
            Assert.That(uio.Events - before, Is.LessThanOrEqualTo(2), "and no interrupt storm");
        });
    }

    [Test]
    public void AKickArrivingAfterTheAcknowledgementIsNotLost()
    {
        var ipcc = new IpccModel();
        using MappedRegion map = ipcc.Map;
        using var uio = UioInterruptStandIn.Mount(ipcc.Line);
        using var bell = new UioDoorbell(uio.DevicePath, null, new Stm32Ipcc(ipcc.Registers, 0b1));
        ipcc.RemoteKicks(0);
        uio.Raise();
        Assert.That(bell.Acknowledge(), Is.True);
        // Between the acknowledgement and the loop's reading of the rings the remote kicks again: the line is high,
        // the interrupt enabled, so it fires and the next wait sees it.
        ipcc.RemoteKicks(0);
        uio.Raise();
        Assert.That(bell.Wait(TimeSpan.FromSeconds(10)), Is.True, "the second kick woke the doorbell");
        Assert.That(ipcc.HostWrites, Is.EqualTo(new[] { (Stm32Ipcc.C1SCR, 1u), (Stm32Ipcc.C1SCR, 1u) }));
    }

    [Test]
    public void ZynqMpIpiClearsTheRemoteAgentsIsrBitOnlyAndKicksThroughTrig()
    {
        var ipi = new IpiModel();
        using MappedRegion map = ipi.Map;
        using var uio = UioInterruptStandIn.Mount(ipi.Line);
        ZynqMpIpi.Kick(0x100).Deconstruct(out ulong trig, out uint value, out _);
        using var bell = new UioDoorbell(uio.DevicePath, new MailboxRegister(ipi.Registers, trig, value), new ZynqMpIpi(ipi.Registers, 0x100));
        Assert.That(ipi.Line(), Is.False);
        Assert.That(ipi.HostWrites, Is.EqualTo(new[] { (ZynqMpIpi.IER, 0x100u) }), "RPU0's bit enabled in IER at 0x18");

        ipi.RemoteKicks(0x100);
        uio.Raise();
        Assert.That(bell.Acknowledge(), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(ipi.HostWrites[^1], Is.EqualTo((ZynqMpIpi.ISR, 0x100u)), "RPU0's bit written to ISR at 0x10 (W1C)");
            Assert.That(uio.LineAtEnable[^1], Is.False, "cleared before the re-enable");
            Assert.That(ipi.OtherStillPending, Is.True, "another agent's pending bit is not the host's to clear");
            Assert.That(Wakes(bell), Is.Zero);
        });

        bell.Ring();
        Assert.That(ipi.Line(), Is.False);
        Assert.That(ipi.HostWrites[^1], Is.EqualTo((ZynqMpIpi.TRIG, 0x100u)), "the kick: RPU0's bit in TRIG at 0x0");
    }

    [Test]
    public void ImxMuClearsGip1WritingOneAndReadsRr1ToTakeTheMessage()
    {
        var mu = new MuModel();
        using MappedRegion map = mu.Map;
        using var uio = UioInterruptStandIn.Mount(mu.Line);
        var block = new ImxMu(mu.Registers, rx: [1], doorbells: [1]);
        MailboxKick kick = ImxMu.Kick(1, 16);
        using var bell = new UioDoorbell(uio.DevicePath, new MailboxRegister(mu.Registers, kick.Offset, kick.Value, kick.NotifyIdShift), block);
        Assert.That(mu.Registers.ReadU32(ImxMu.CR), Is.EqualTo((1u << 30) | (1u << 26)), "GIE1 and RIE1 set in CR at 0x24");

        mu.RemoteRaisesGeneralInterrupt(1);
        uio.Raise();
        Assert.That(bell.Acknowledge(), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(mu.HostWrites, Is.EqualTo(new[] { (ImxMu.SR, 1u << 30) }), "GIP1 (bit 30) written to SR at 0x20, nothing else");
            Assert.That(uio.LineAtEnable[^1], Is.False);
            Assert.That(Wakes(bell), Is.Zero);
        });

        // RR1's read clears RF1 in hardware, which plain memory cannot show: the count says RR1 was taken, and only when RF1 was set.
        Assert.That(block.AcknowledgePending(), Is.Zero, "RF1 clear: RR1 not read");
        mu.RemoteSends(1, 3u << 16);
        Assert.That(block.AcknowledgePending(), Is.EqualTo(1), "RF1 set: RR1 read");

        bell.Ring(2);
        Assert.That(mu.Registers.ReadU32(ImxMu.TR0 + 4), Is.EqualTo(2u << 16), "the kick: vq id << 16 in TR1 at 0x4 (imx_rproc)");
    }

    [Test]
    public void OmapMailboxClearsNewMessageForItsUserAndSendsTheNotifyId()
    {
        var omap = new OmapModel(user: 0);
        using MappedRegion map = omap.Map;
        using var uio = UioInterruptStandIn.Mount(omap.Line);
        MailboxKick kick = OmapMailbox.Kick(1);
        var block = new OmapMailbox(omap.Registers, fifo: 0, user: 0);
        using var bell = new UioDoorbell(uio.DevicePath, new MailboxRegister(omap.Registers, kick.Offset, kick.Value, kick.NotifyIdShift), block);
        Assert.That(omap.Line(), Is.False);
        Assert.That(omap.HostWrites, Is.EqualTo(new[] { (0x104ul, 1u), (0x108ul, 1u) }), "at open: pending NEWMSG0 cleared, then enabled for user 0 (IRQENABLE_SET 0x108)");

        omap.RemoteSends(fifo: 0, 5, leaveQueued: false);
        uio.Raise();
        Assert.That(bell.Acknowledge(), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(omap.HostWrites[^1], Is.EqualTo((0x104ul, 1u)), "NEWMSG0 (bit 0) written to IRQSTATUS_CLR(0) at 0x104");
            Assert.That(uio.LineAtEnable[^1], Is.False);
            Assert.That(Wakes(bell), Is.Zero);
        });

        // MESSAGE's read takes one in hardware; a FIFO that never empties (here: plain memory) costs a bounded drain.
        omap.RemoteSends(fifo: 0, 6, leaveQueued: true);
        Assert.That(block.AcknowledgePending(), Is.EqualTo(64), "the drain stops after 64 messages");

        bell.Ring(7);
        Assert.That(omap.Registers.ReadU32(OmapMailbox.Message(1)), Is.EqualTo(7u), "the kick: the notify id in MESSAGE(1) at 0x44");
    }
}

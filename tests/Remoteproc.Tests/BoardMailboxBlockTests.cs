using AmpCan.Remoteproc.Boards;
using static AmpCan.Tests.Remoteproc.BoardJsonEdit;

namespace AmpCan.Tests.Remoteproc;

/// <summary>A mailbox channel's block: the kick it stands for, and each check on it naming board, mailbox and field.</summary>
public class BoardMailboxBlockTests
{
    private const string Regions = BoardRegionTests.Regions;

    private const string Ipcc = """
        [ { "name": "vq0", "kind": "uio", "uioDevice": 0, "mailboxMap": 0, "block": { "kind": "stm32-ipcc", "channel": 0 }, "notifyIds": [ 0 ] },
          { "name": "vq1", "kind": "uio", "uioDevice": 0, "mailboxMap": 0, "block": { "kind": "stm32-ipcc", "channel": 1 }, "notifyIds": [ 1 ] },
          { "name": "shutdown", "kind": "uio", "uioDevice": 0, "mailboxMap": 0, "block": { "kind": "stm32-ipcc", "channel": 2 }, "notifyIds": [ ], "direction": "to-remote" } ]
        """;
    private const string IpccDoorbell = """{ "kind": "uio", "uioDevice": 0, "mailboxMap": 0, "mailboxOffset": "0x8", "mailboxValue": "0x10000" }""";

    private static string Board(string mailboxes, string doorbell = IpccDoorbell) => With(Regions, ("mailboxes", mailboxes), ("doorbell", doorbell));

    private static BoardDescriptor Load(string json) => BoardFile.Parse(json, "test.json").Cores.Single();

    private static void AssertRefused(string json, string field, string problem) =>
        Assert.That(Assert.Throws<BoardException>(() => BoardFile.Parse(json, "test.json"))!.Message,
            Does.StartWith($"board file 'test.json': {field}: ").And.Contain(problem));

    [Test]
    public void AnIpccChannelsKickIsItsSetBitInC1scr()
    {
        BoardDescriptor b = Load(Board(Ipcc));
        Assert.Multiple(() =>
        {
            Assert.That(b.EffectiveMailboxes.Select(m => m.ToDoorbell()).Select(d => (d.MailboxOffset, d.MailboxValue)),
                Is.EqualTo(new (ulong, ulong)[] { (8, 0x10000), (8, 0x20000), (8, 0x40000) }));
            Assert.That(b.EffectiveMailboxes.Select(m => m.Block!.Kind), Is.All.EqualTo(MailboxBlockKind.Stm32Ipcc));
        });
    }

    [Test]
    public void EachKindsKick()
    {
        string mu = """[ { "name": "tx", "kind": "uio", "uioDevice": 1, "mailboxMap": 0, "direction": "to-remote", "block": { "kind": "imx-mu", "type": "tx", "channel": 1, "notifyIdShift": 16 } },""" +
            """{ "name": "rx", "kind": "uio", "uioDevice": 1, "mailboxMap": 0, "direction": "from-remote", "block": { "kind": "imx-mu", "type": "rx", "channel": 1 } } ]""";
        MailboxSpec tx = Load(Board(mu, """{ "kind": "uio", "uioDevice": 1, "mailboxMap": 0, "mailboxOffset": "0x4", "mailboxNotifyIdShift": 16 }""")).EffectiveMailboxes[0];
        string ipi = """[ { "name": "ipi", "kind": "uio", "uioDevice": 2, "mailboxMap": 0, "block": { "kind": "zynqmp-ipi", "agentBit": "0x100" } } ]""";
        MailboxSpec rpu = Load(Board(ipi, """{ "kind": "uio", "uioDevice": 2, "mailboxMap": 0, "mailboxOffset": "0x0", "mailboxValue": "0x100" }""")).EffectiveMailboxes[0];
        string omap = """[ { "name": "m4", "kind": "uio", "uioDevice": 3, "mailboxMap": 0, "block": { "kind": "omap-mailbox", "rxFifo": 0, "txFifo": 1, "user": 0 } } ]""";
        MailboxSpec m4 = Load(Board(omap, """{ "kind": "uio", "uioDevice": 3, "mailboxMap": 0, "mailboxOffset": "0x44", "mailboxNotifyIdShift": 0 }""")).EffectiveMailboxes[0];
        Assert.Multiple(() =>
        {
            Assert.That((tx.ToDoorbell().MailboxOffset, tx.ToDoorbell().MailboxValue, tx.ToDoorbell().MailboxNotifyIdShift), Is.EqualTo((4UL, 0UL, 16)), "MU: TR1, vq id << 16");
            Assert.That((rpu.ToDoorbell().MailboxOffset, rpu.ToDoorbell().MailboxValue), Is.EqualTo((0UL, 0x100UL)), "IPI: RPU0's bit in TRIG");
            Assert.That((m4.ToDoorbell().MailboxOffset, m4.ToDoorbell().MailboxNotifyIdShift), Is.EqualTo((0x44UL, 0)), "OMAP: the notify id into MESSAGE(1)");
        });
    }

    [Test]
    public void TheKicksRegisterGivenTwiceIsRefused() =>
        AssertRefused(Board(Ipcc.Replace("\"mailboxMap\": 0, \"block\": { \"kind\": \"stm32-ipcc\", \"channel\": 1 }", "\"mailboxMap\": 0, \"mailboxOffset\": \"0x8\", \"block\": { \"kind\": \"stm32-ipcc\", \"channel\": 1 }")),
            "mailboxes[1].mailboxOffset", "comes from block kind 'stm32-ipcc' for 'vq1'; leave it out");

    [Test]
    public void AnIpccChannelOutOfRangeIsRefused() =>
        AssertRefused(With(Board(Ipcc), ("mailboxes[1].block.channel", "16")), "mailboxes[1].block.channel", "16 is not an IPCC channel (0 to 15");

    [Test]
    public void AMissingChannelIsRefused() =>
        AssertRefused(With(Board(Ipcc), ("mailboxes[1].block.channel", null)), "mailboxes[1].block.channel", "'vq1''s block is 'stm32-ipcc' and needs it");

    [Test]
    public void AFieldOfAnotherKindIsRefused() =>
        AssertRefused(With(Board(Ipcc), ("mailboxes[2].block.user", "0")), "mailboxes[2].block.user", "is for omap-mailbox; 'shutdown''s block is 'stm32-ipcc'");

    [Test]
    public void TwoChannelsOnOneIpccChannelAreRefused() =>
        AssertRefused(With(Board(Ipcc), ("mailboxes[1].block.channel", "0")), "mailboxes[1].block", "'vq1' uses channel 0 of uio0 stm32-ipcc, as 'vq0' does");

    [Test]
    public void TwoBlockKindsOnOneUioDeviceAreRefused() =>
        AssertRefused(With(Board(Ipcc), ("mailboxes[2].block", """{ "kind": "zynqmp-ipi", "agentBit": "0x100" }""")),
            "mailboxes[2].block", "'shutdown' is on uio0 as 'vq0' is, whose block is 'stm32-ipcc', not 'zynqmp-ipi'; one UIO device is one mailbox block");

    [Test]
    public void AnMuTxChannelTakingKicksFromTheRemoteIsRefused() =>
        AssertRefused(Board("""[ { "name": "tx", "kind": "uio", "uioDevice": 1, "mailboxMap": 0, "block": { "kind": "imx-mu", "type": "tx", "channel": 1 } } ]""",
                """{ "kind": "uio", "uioDevice": 1, "mailboxMap": 0, "mailboxOffset": "0x4" }"""),
            "mailboxes[0].direction", "'tx' takes the remote's kicks (both), but its imx-mu part only sends; say \"direction\": \"to-remote\"");

    [Test]
    public void AnMuRxChannelKickingTheRemoteIsRefused() =>
        AssertRefused(Board("""[ { "name": "rx", "kind": "uio", "uioDevice": 1, "mailboxMap": 0, "direction": "both", "block": { "kind": "imx-mu", "type": "rx", "channel": 1 } } ]""",
                """{ "kind": "uio", "uioDevice": 1, "mailboxMap": 0 }"""),
            "mailboxes[0].direction", "'rx' kicks the remote (both), but its imx-mu part only receives; say \"direction\": \"from-remote\"");

    [Test]
    public void AnIpiAgentBitThatIsNotOneBitIsRefused() =>
        AssertRefused(Board("""[ { "name": "ipi", "kind": "uio", "uioDevice": 2, "mailboxMap": 0, "block": { "kind": "zynqmp-ipi", "agentBit": "0x300" } } ]""",
                """{ "kind": "uio", "uioDevice": 2, "mailboxMap": 0, "mailboxOffset": "0x0", "mailboxValue": "0x300" }"""),
            "mailboxes[0].block.agentBit", "0x300 is not one agent's bit");

    [Test]
    public void AnOmapFifoBothWaysIsRefused() =>
        AssertRefused(Board("""[ { "name": "m4", "kind": "uio", "uioDevice": 3, "mailboxMap": 0, "block": { "kind": "omap-mailbox", "rxFifo": 1, "txFifo": 1, "user": 0 } } ]""",
                """{ "kind": "uio", "uioDevice": 3, "mailboxMap": 0, "mailboxOffset": "0x44", "mailboxNotifyIdShift": 0 }"""),
            "mailboxes[0].block.txFifo", "1 is the rxFifo too");

    [Test]
    public void ABlockOnASocketChannelIsRefused() =>
        AssertRefused(Board("""[ { "name": "sock", "kind": "unix-socket", "path": "/tmp/ampcan-kick", "block": { "kind": "stm32-ipcc", "channel": 0 } } ]""",
                """{ "kind": "unix-socket", "path": "/tmp/ampcan-kick" }"""),
            "mailboxes[0].block", "'sock' is 'unix-socket'; a block is for kind 'uio' (AmpCan drives it) or 'polling' (the kernel does)");

    [Test]
    public void APollingChannelsBlockRecordsTheHardwareOnly()
    {
        MailboxSpec poll = Load(With(Regions, ("mailboxes[0].block", """{ "kind": "stm32-ipcc", "channel": 0 }"""))).EffectiveMailboxes[0];
        Assert.That(poll.ToDoorbell(), Is.EqualTo(new DoorbellSpec { Kind = DoorbellKind.Polling }), "the kernel kicks; nothing is written from here");
    }

    [Test]
    public void AnUnknownBlockKindIsRefusedByTheReader() =>
        Assert.That(Assert.Throws<BoardException>(() => BoardFile.Parse(With(Board(Ipcc), ("mailboxes[0].block.kind", "\"stm32-hsem\"")), "test.json"))!.Message,
            Does.StartWith("board file 'test.json'").And.Contain("mailboxes[0].block.kind"));
}

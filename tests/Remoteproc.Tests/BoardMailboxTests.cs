using AmpCan.Remoteproc.Boards;
using static AmpCan.Tests.Remoteproc.BoardJsonEdit;

namespace AmpCan.Tests.Remoteproc;

/// <summary>A core's mailbox channels: what they derive from, and each check on them naming the field.</summary>
public class BoardMailboxTests
{
    private const string Regions = BoardRegionTests.Regions;

    // The STM32MP1 IPCC's shape: one channel per vring, a control channel, through a UIO device's register map 0.
    private const string Ipcc = """
        [ { "name": "vq0", "kind": "uio", "uioDevice": 0, "mailboxMap": 0, "mailboxOffset": "0x8", "mailboxValue": "0x10000", "notifyIds": [ 0 ] },
          { "name": "vq1", "kind": "uio", "uioDevice": 0, "mailboxMap": 0, "mailboxOffset": "0x8", "mailboxValue": "0x20000", "notifyIds": [ 1 ] },
          { "name": "shutdown", "kind": "uio", "uioDevice": 0, "mailboxMap": 0, "mailboxOffset": "0x8", "mailboxValue": "0x40000", "notifyIds": [ ], "direction": "to-remote" } ]
        """;
    private const string IpccDoorbell = """{ "kind": "uio", "uioDevice": 0, "mailboxMap": 0, "mailboxOffset": "0x8", "mailboxValue": "0x10000" }""";

    private static BoardDescriptor Load(string json) => BoardFile.Parse(json, "test.json").Cores.Single();

    private static void AssertRefused(string json, string field, string problem) =>
        Assert.That(Assert.Throws<BoardException>(() => BoardFile.Parse(json, "test.json"))!.Message,
            Does.StartWith($"board file 'test.json': {field}: ").And.Contain(problem));

    [Test]
    public void ChannelsPerNotifyIdLoad()
    {
        BoardDescriptor b = Load(With(Regions, ("mailboxes", Ipcc), ("doorbell", IpccDoorbell)));
        Assert.Multiple(() =>
        {
            Assert.That(b.EffectiveMailboxes.Select(m => m.Name), Is.EqualTo(new[] { "vq0", "vq1", "shutdown" }));
            Assert.That(b.EffectiveMailboxes.Select(m => m.Carries(1)), Is.EqualTo(new[] { false, true, false }));
            Assert.That(b.EffectiveMailboxes[1].ToDoorbell(), Is.EqualTo(new DoorbellSpec { Kind = DoorbellKind.Uio, UioDevice = 0, MailboxMap = 0, MailboxOffset = 8, MailboxValue = 0x20000 }));
            Assert.That(b.EffectiveMailboxes[2].Direction, Is.EqualTo(MailboxDirection.ToRemote));
        });
    }

    [Test]
    public void WithoutMailboxesTheDoorbellIsOneChannelCarryingEverything()
    {
        BoardDescriptor sim = BoardDescriptor.Load(Path.Combine(TestContext.CurrentContext.TestDirectory, "boards", "sim.json"));
        MailboxSpec bell = sim.EffectiveMailboxes.Single();
        Assert.That((bell.Name, bell.Kind, bell.NotifyIds, bell.Direction, bell.ToDoorbell()), Is.EqualTo(("doorbell", DoorbellKind.EventFd, (IReadOnlyList<int>?)null, MailboxDirection.Both, sim.Doorbell)));
    }

    [Test]
    public void ANotifyIdNoVdevCanUseIsRefused() =>
        AssertRefused(With(Regions, ("mailboxes[0].notifyIds", "[0, 2]")), "mailboxes[0].notifyIds[1]", "2: no vdev of this board can use it; its vdevs have 2 vrings");

    [Test]
    public void ACanControllersVringsAreNotifyIdsToo()
    {
        string withCan = With(Regions, ("can", """{ "controllers": [ { "name": "can0", "bus": "b0" } ] }"""), ("mailboxes[0].notifyIds", "[0, 1, 2, 3, 4]"));
        Assert.That(Load(withCan).EffectiveMailboxes[0].NotifyIds, Has.Count.EqualTo(5));
        AssertRefused(With(withCan, ("mailboxes[0].notifyIds", "[5]")), "mailboxes[0].notifyIds[0]", "notify ids 0 to 4");
    }

    [Test]
    public void ANotifyIdListedTwiceIsRefused() =>
        AssertRefused(With(Regions, ("mailboxes[0].notifyIds", "[1, 1]")), "mailboxes[0].notifyIds[1]", "1 is listed twice");

    [Test]
    public void AUioMailboxWithoutItsMapIsRefused() =>
        AssertRefused(With(Regions, ("mailboxes", Ipcc), ("doorbell", IpccDoorbell), ("mailboxes[1].mailboxMap", null)),
            "mailboxes[1].mailboxMap", "'vq1' is a uio mailbox and needs the UIO map holding its register");

    [Test]
    public void AUioMailboxWithoutItsDeviceOrRegisterIsRefused()
    {
        string ipcc = With(Regions, ("mailboxes", Ipcc), ("doorbell", IpccDoorbell));
        AssertRefused(With(ipcc, ("mailboxes[0].uioDevice", null)), "mailboxes[0].uioDevice", "needs the UIO device");
        AssertRefused(With(ipcc, ("mailboxes[0].mailboxOffset", null)), "mailboxes[0].mailboxOffset", "needs the offset of its register");
    }

    [Test]
    public void AUioMailboxOnARegionsMemoryMapIsRefused()
    {
        string uioMemory = With(Regions, ("mailboxes", Ipcc), ("doorbell", IpccDoorbell), ("regions[0].backing", """{ "kind": "uio", "uioDevice": 0, "uioMap": 0 }"""));
        AssertRefused(uioMemory, "mailboxes[0].mailboxMap", "uio0 map 0 is region 'fw''s memory");
    }

    [Test]
    public void UioFieldsOnAnotherKindAreRefused() =>
        AssertRefused(With(Regions, ("mailboxes[0].mailboxOffset", "\"0x4\"")), "mailboxes[0].mailboxOffset", "is for kind 'uio'; 'poll' is 'polling'");

    [Test]
    public void AMailboxRegisterNotAlignedIsRefused() =>
        AssertRefused(With(Regions, ("mailboxes", Ipcc), ("doorbell", IpccDoorbell), ("mailboxes[2].mailboxOffset", "\"0x6\"")), "mailboxes[2].mailboxOffset", "not a multiple of 4");

    [Test]
    public void AMailboxWithoutAVringRegionIsRefused() =>
        AssertRefused(With(Regions, ("regions[1].roles", "[\"carveout\"]")), "mailboxes[0]", "no region has the vrings role");

    [Test]
    public void ADoorbellWithoutAVringRegionIsRefused() =>
        AssertRefused(With(Regions, ("regions[1].roles", "[\"carveout\"]"), ("mailboxes", null)), "doorbell", "no region has the vrings role");

    [Test]
    public void DuplicateMailboxNamesAreRefused() =>
        AssertRefused(With(Regions, ("mailboxes", Ipcc), ("doorbell", IpccDoorbell), ("mailboxes[2].name", "\"vq0\"")), "mailboxes[2].name", "'vq0' is also the name of mailboxes[0]");

    [Test]
    public void ANotifyIdCarriedTwiceTheSameWayIsRefused()
    {
        // "tx" carries every id to the remote; "vq1" carries 1 both ways, so to the remote as well.
        string twice = With(Regions, ("mailboxes", """[ { "name": "tx", "kind": "polling", "direction": "to-remote" }, { "name": "vq1", "kind": "polling", "notifyIds": [ 1 ] } ]"""));
        AssertRefused(twice, "mailboxes[1].notifyIds", "'vq1' carries notify id 1 to-remote, as 'tx' does");
    }

    [Test]
    public void OneWayChannelsInBothDirectionsAreAccepted()
    {
        // The i.MX MU's shape: tx and rx one way each, rxdb carrying no vring.
        BoardDescriptor b = Load(With(Regions, ("mailboxes", """
            [ { "name": "tx", "kind": "polling", "direction": "to-remote" }, { "name": "rx", "kind": "polling", "direction": "from-remote" },
              { "name": "rxdb", "kind": "polling", "direction": "from-remote", "notifyIds": [ ] } ]
            """)));
        Assert.That(b.EffectiveMailboxes.Select(m => m.Direction), Is.EqualTo(new[] { MailboxDirection.ToRemote, MailboxDirection.FromRemote, MailboxDirection.FromRemote }));
    }

    [Test]
    public void ADoorbellThatIsNoMailboxIsRefused() =>
        AssertRefused(With(Regions, ("doorbell", """{ "kind": "event-fd" }""")), "doorbell", "is not one of the mailboxes (poll)");

    [Test]
    public void AnUnknownDirectionNamesTheDirections() =>
        Assert.That(Assert.Throws<BoardException>(() => BoardFile.Parse(With(Regions, ("mailboxes[0].direction", "\"inbound\"")), "test.json"))!.Message,
            Does.Contain("'direction' must be one of both, to-remote, from-remote").And.Contain("$.mailboxes[0].direction"));

    [Test]
    public void AComputedPropertyIsNoKeyOfTheFile() =>
        // MailboxSpec.ToDoorbell() is derived from the channel's fields; written in the file it would be read by nobody.
        Assert.That(Assert.Throws<BoardException>(() => BoardFile.Parse(With(Regions, ("mailboxes[0].doorbell", """{ "kind": "event-fd" }""")), "test.json"))!.Message,
            Does.Contain("$.mailboxes[0].doorbell"));

    [Test]
    public void AnEmptyMailboxListIsRefused() =>
        AssertRefused(With(Regions, ("mailboxes", "[]")), "mailboxes", "at least one channel");
}

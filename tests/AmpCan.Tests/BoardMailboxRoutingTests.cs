using AmpCan.Host.Boards;
using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Boards;
using AmpCan.Rpmsg;
using AmpCan.SharedMem.Doorbells;
using Microsoft.Extensions.Logging.Abstractions;

namespace AmpCan.Tests.Host;

/// <summary>
/// A core with two mailbox channels, as STM32's IPCC vq0 and vq1: each kick leaves on the channel that carries its
/// notify id (real eventfds, read at the other end), a kick from the remote on either wakes the board's loop, and a
/// table whose vring no channel carries is refused before it is served.
/// </summary>
public class BoardMailboxRoutingTests
{
    private const string Json = """
        { "name": "two-channels",
          "regions": [ { "name": "ipc", "deviceAddress": "0x30000000", "size": "0x100000", "backing": { "kind": "memfd" },
                         "roles": [ "resource-table", "vrings", "buffers" ] } ],
          "sharedMemory": { "kind": "memfd", "size": "0x100000", "deviceAddress": "0x30000000" },
          "rpmsg": { "bufferPoolOffset": "0x10000" },
          "mailboxes": [ { "name": "vq0", "kind": "event-fd", "notifyIds": [ 0 ] }, { "name": "vq1", "kind": "event-fd", "notifyIds": [ 1 ] },
                         { "name": "ctl", "kind": "event-fd", "notifyIds": [ ], "direction": "to-remote" } ],
          "doorbell": { "kind": "event-fd" },
          "core": { "mechanism": "simulated" } }
        """;

    private static BoardDescriptor Board() => BoardFile.Parse(Json, "two-channels.json").Cores.Single();

    [Test]
    public void EachKickLeavesOnTheChannelThatCarriesItsNotifyId()
    {
        using CoreMailboxes mailboxes = CoreMailboxes.Open(Board(), NullLogger.Instance);
        Doorbell vq0 = mailboxes.RemoteEndOf(0)!, vq1 = mailboxes.RemoteEndOf(1)!, ctl = mailboxes.RemoteEndOf(2)!;
        Assert.That(mailboxes.Outgoing, Is.InstanceOf<MailboxRouter>());

        mailboxes.Outgoing.Ring(1);
        Assert.That((vq0.Acknowledge(), vq1.Acknowledge(), ctl.Acknowledge()), Is.EqualTo((false, true, false)), "notify id 1 on vq1 only");
        mailboxes.Outgoing.Ring(0);
        Assert.That((vq0.Acknowledge(), vq1.Acknowledge(), ctl.Acknowledge()), Is.EqualTo((true, false, false)), "notify id 0 on vq0 only");
        mailboxes.Outgoing.Ring(7);
        Assert.That((vq0.Acknowledge(), vq1.Acknowledge(), ctl.Acknowledge()), Is.EqualTo((false, false, false)), "an id no channel carries goes nowhere");
        Assert.That(mailboxes.Incoming, Is.EqualTo(new[] { mailboxes.Channel(0), mailboxes.Channel(1) }), "ctl carries nothing from the remote");
    }

    [Test]
    public void AKickFromTheRemoteOnEitherChannelWakesTheLoop()
    {
        using CoreMailboxes mailboxes = CoreMailboxes.Open(Board(), NullLogger.Instance);
        using var loop = new NotificationLoop("two-channels", NotificationMode.Doorbell);
        var passes = new PassCounter();
        loop.Add(passes); // a handler with no doorbell of its own, as the rpmsg device is behind the router
        mailboxes.Watch(loop);
        loop.Start();
        foreach (int channel in new[] { 1, 0 })
        {
            Assert.That(SpinWait.SpinUntil(() => loop.Parks > 0 && passes.Parked, TimeSpan.FromSeconds(10)), Is.True, "the loop never parked");
            long before = passes.Count;
            passes.Parked = false;
            mailboxes.RemoteEndOf(channel)!.Ring((uint)channel);
            Assert.That(SpinWait.SpinUntil(() => passes.Count > before, TimeSpan.FromSeconds(10)), Is.True, $"a kick on channel {channel} did not wake the loop");
        }
    }

    [Test]
    public void ATableWhoseVringNoChannelCarriesIsRefusedNamingIt()
    {
        using CoreMailboxes mailboxes = CoreMailboxes.Open(Board(), NullLogger.Instance);
        using AmpCan.SharedMem.MappedRegion memory = AmpCan.SharedMem.MappedRegion.CreateMemfd("routes", 0x1000, 0x30000000);
        memory.Io.Write(0, new ResourceTableBuilder()
            .Vdev(VirtioRpmsg.DeviceId, 0, 0, [new VringSpec(0x30004000, 0x1000, 16, 0), new VringSpec(0x30008000, 0x1000, 16, 5)]).Build());
        ResourceTable table = ResourceTable.Parse(memory.Io);
        Assert.That(() => mailboxes.CheckRoutes(table), Throws.TypeOf<BoardException>().With.Message.Contains("vring 1 has notify id 5, which no mailbox carries"));
    }

    private sealed class PassCounter : INotificationHandler
    {
        private long _count;
        public long Count => Interlocked.Read(ref _count);
        public volatile bool Parked;
        public bool Process()
        {
            Interlocked.Increment(ref _count);
            return false;
        }
        public bool ArmNotifications()
        {
            Parked = true;
            return false;
        }
        public void DisarmNotifications() { }
    }
}

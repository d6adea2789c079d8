using AmpCan.Remoteproc;
using AmpCan.Rpmsg;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Vring;
using AmpCan.Vring.Wire;

namespace AmpCan.Tests.Rpmsg;

/// <summary>
/// A host taking over a remote that kept running (the host detached, or died and was restarted): the rings are not
/// zeroed under the remote, which never resets; messages flow on both ways, past ring wrap-around.
/// </summary>
public class HostTakeOverTests
{
    private const int Rounds = 600; // past 256 both ways: every buffer and descriptor reused

    // The remote's echo service, announced; its endpoint binds to whoever speaks to it first (as OpenAMP's does).
    private static RpmsgEndpoint RemoteEcho(RpmsgLink link)
    {
        RpmsgEndpoint? self = null;
        self = link.Remote.CreateEndpoint("rpmsg-echo", (in RpmsgReceivedMessage m) =>
        {
            if (self!.Destination == RpmsgAddress.Any) self.Destination = m.Source;
            self.Post(m.Payload);
        }, announce: true);
        return self;
    }

    private sealed class EchoClient
    {
        public readonly System.Collections.Concurrent.BlockingCollection<string> Received = [];
        public RpmsgEndpoint? Endpoint;

        public void Bind(VirtioRpmsgHost bus) => bus.RegisterDriver("rpmsg-echo", ch =>
        {
            Endpoint = bus.CreateEndpoint(ch, (in RpmsgReceivedMessage m) => Received.Add(System.Text.Encoding.ASCII.GetString(m.Payload)));
            return Endpoint;
        });

        public string Next()
        {
            if (!Received.TryTake(out string? s, TimeSpan.FromSeconds(10))) Assert.Fail("no echo within 10 s");
            return s!;
        }

        public void RoundTrips(int n, string tag)
        {
            for (int i = 0; i < n; i++)
            {
                Endpoint!.Send(System.Text.Encoding.ASCII.GetBytes($"{tag}-{i}"), TimeSpan.FromSeconds(10));
                Assert.That(Next(), Is.EqualTo($"{tag}-{i}"));
            }
        }
    }

    private static EchoClient FirstHost(RpmsgLink link)
    {
        var client = new EchoClient();
        client.Bind(link.Host);
        var probed = SpinWait.SpinUntil(() => client.Endpoint is not null, TimeSpan.FromSeconds(10));
        Assert.That(probed, Is.True, "the first host's driver was probed");
        client.RoundTrips(Rounds, "first");
        return client;
    }

    private static (VirtioRpmsgHost Bus, bool TakenOver, EchoClient Client) SecondHost(RpmsgLink link, NotificationLoop loop, RpmsgHostResume? resume)
    {
        var client = new EchoClient();
        var driver = new VirtioRpmsgDriver("host2", new RpmsgHostOptions().ForRings(256, 256)) { Resume = resume, BeforeStart = client.Bind };
        var (_, takenOver) = new VdevTransport(link.Vdev, link.Memory, link.HostBell).AttachDriver(driver, loop, link.Shm.Io.Slice(0x10000, new RpmsgHostOptions().ForRings(256, 256).PoolSize));
        return (driver.Bus!, takenOver, client);
    }

    // The host's receive ring (vq0) at 0x4000: its available index, after the 256 descriptors.
    private static ushort RxAvailIndex(RpmsgLink link) => link.Shm.Io.ReadU16(0x4000 + SplitRingOffsets.DescriptorTableSize(256) + SplitRingOffsets.Index);

    [Test]
    [CancelAfter(60_000)]
    public void A_detached_host_is_taken_over_exactly_and_what_the_remote_sent_meanwhile_arrives()
    {
        using var link = new RpmsgLink();
        using RpmsgEndpoint echo = RemoteEcho(link);
        EchoClient first = FirstHost(link);
        uint hostAddress = first.Endpoint!.Address;
        VirtioStatus status = link.Vdev.Status;

        RpmsgHostResume resume = link.Host.Detach();
        Assert.Multiple(() =>
        {
            Assert.That(resume.Rx, Is.Not.Null);
            Assert.That(resume.Tx, Is.Not.Null);
            Assert.That(resume.Channels, Is.EqualTo(new[] { new RpmsgChannelRecord("rpmsg-echo", echo.Address, hostAddress) }));
            Assert.That(first.Endpoint.IsDestroyed, Is.True, "the first host's users see their endpoint go");
            Assert.That(link.Vdev.Status, Is.EqualTo(status), "detaching does not reset the device");
        });
        // The remote goes on: while nobody serves the rings it says three things to the address it is bound to.
        for (int i = 0; i < 3; i++) echo.Post(System.Text.Encoding.ASCII.GetBytes($"meanwhile-{i}"));
        Assert.That(SpinWait.SpinUntil(() => link.Remote.Statistics.MessagesSent >= Rounds + 3, TimeSpan.FromSeconds(10)), Is.True, "the remote sent them");

        var (bus, takenOver, second) = SecondHost(link, link.HostLoop, resume);
        using (bus)
        {
            Assert.That(takenOver, Is.True);
            Assert.That(second.Endpoint!.Address, Is.EqualTo(hostAddress), "the channel's endpoint is back at the address the remote is bound to");
            for (int i = 0; i < 3; i++) Assert.That(second.Next(), Is.EqualTo($"meanwhile-{i}"));
            second.RoundTrips(Rounds, "second");
            Assert.Multiple(() =>
            {
                Assert.That(link.Remote.State, Is.EqualTo(RpmsgDeviceState.Ready), "the remote never failed or reset");
                Assert.That(bus.State, Is.EqualTo(RpmsgDeviceState.Ready));
                Assert.That(link.Vdev.Status, Is.EqualTo(status));
            });
        }
    }

    [Test]
    [CancelAfter(60_000)]
    public void A_host_that_died_is_replaced_without_zeroing_the_rings_under_the_remote()
    {
        using var link = new RpmsgLink();
        using RpmsgEndpoint echo = RemoteEcho(link);
        EchoClient first = FirstHost(link);
        uint hostAddress = first.Endpoint!.Address;
        ushort rxAvail = RxAvailIndex(link);
        Assert.That(rxAvail, Is.Not.Zero);

        // The host dies: its loop stops dead, nothing is reset, no record of the rings is left (only the channels, as
        // the service keeps them on every change).
        link.HostLoop.Dispose();
        using var loop = new NotificationLoop("host2", NotificationMode.Adaptive);
        loop.Start();
        var (bus, takenOver, second) = SecondHost(link, loop, new RpmsgHostResume(null, null, [new RpmsgChannelRecord("rpmsg-echo", echo.Address, hostAddress)]));
        using (bus)
        {
            Assert.That(takenOver, Is.True);
            Assert.That(RxAvailIndex(link), Is.GreaterThanOrEqualTo(rxAvail), "the receive ring was not zeroed");
            second.RoundTrips(Rounds, "second");
            Assert.Multiple(() =>
            {
                Assert.That(link.Remote.State, Is.EqualTo(RpmsgDeviceState.Ready), "the remote never saw a protocol error");
                Assert.That(bus.State, Is.EqualTo(RpmsgDeviceState.Ready));
            });
        }
    }

    [Test]
    [CancelAfter(30_000)]
    public void A_device_that_needs_a_reset_is_not_taken_over()
    {
        using var link = new RpmsgLink();
        link.Host.Detach();
        link.Vdev.Status |= VirtioStatus.DeviceNeedsReset;
        var e = Assert.Throws<VirtioException>(() => SecondHost(link, link.HostLoop, null));
        Assert.That(e!.Message, Does.Contain("DEVICE_NEEDS_RESET"));
    }

    [Test]
    [CancelAfter(30_000)]
    public void A_device_no_host_brought_up_is_probed_as_usual()
    {
        using var pair = new VdevPair("never-driven");
        var options = new RpmsgHostOptions().ForRings(256, 256);
        var driver = new VirtioRpmsgDriver("host", options);
        var (_, takenOver) = pair.HostTransport.AttachDriver(driver, pair.HostLoop, pair.Pool(options.PoolSize));
        using VirtioRpmsgHost bus = driver.Bus!;
        Assert.That(takenOver, Is.False);
        Assert.That(pair.Vdev.Status & VirtioStatus.DriverOk, Is.EqualTo(VirtioStatus.DriverOk));
    }
}

using AmpCan.Rpmsg;
using AmpCan.Rpmsg.Wire;
using AmpCan.Vring;
using AmpCan.Vring.Wire;

namespace AmpCan.Tests.Rpmsg;

/// <summary>Endpoint addresses, announcement order, timeouts and how a device stops.</summary>
public class LifecycleTests
{
    [Test]
    public void DynamicAddressesAreTheLowestFreeFrom1024()
    {
        using var link = new RpmsgLink();
        RpmsgEndpoint a = link.Host.CreateEndpoint("a", null);
        using RpmsgEndpoint b = link.Host.CreateEndpoint("b", null);
        Assert.That((a.Address, b.Address), Is.EqualTo((1024u, 1025u)));
        a.Dispose();
        using RpmsgEndpoint c = link.Host.CreateEndpoint("c", null);
        Assert.That(c.Address, Is.EqualTo(1024u), "a freed address is reused first, as Linux's idr does");
    }

    [Test]
    public void AddressOfTheNameServiceIsRefused()
    {
        using var link = new RpmsgLink();
        var e = Assert.Throws<RpmsgException>(() => link.Host.CreateEndpoint("name_service", null, address: RpmsgAddress.NameService))!;
        Assert.That(e.Error, Is.EqualTo(RpmsgError.InvalidAddress));
        Assert.That(e.Message, Does.Contain("53"));
    }

    [Test]
    public void AnEndpointAnnouncedAndDestroyedBeforeDriverOkLeavesNoChannel()
    {
        using var link = new RpmsgLink(startRemote: false);
        var events = new List<string>();
        var removed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        link.Host.ChannelCreated += c => { lock (events) events.Add($"+{c.Name}"); };
        link.Host.ChannelRemoved += c => { lock (events) events.Add($"-{c.Name}"); removed.TrySetResult(); };
        RpmsgEndpoint early = link.Remote.CreateEndpoint("early", null, announce: true);
        early.Dispose();
        link.Remote.Start();
        RpmsgLink.Await(removed.Task.ContinueWith(_ => true), "the queued destroy");
        lock (events) Assert.That(events, Is.EqualTo(new[] { "+early", "-early" }), "create, then the destroy that undoes it, in order");
        Assert.That(link.Host.Channels, Is.Empty);
    }

    [Test]
    public void DeviceSendTimeoutAppliesWhenTheCallGivesNone()
    {
        using (var defaults = new RpmsgLink())
            Assert.That((defaults.Host.SendTimeout, defaults.Remote.SendTimeout), Is.EqualTo((TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(15))), "Linux's 15 s by default");
        using var link = new RpmsgLink(hostOptions: new RpmsgHostOptions { TxBufferCount = 1 }, sendTimeout: TimeSpan.FromMilliseconds(300));
        Assert.That(link.Host.SendTimeout, Is.EqualTo(TimeSpan.FromMilliseconds(300)));
        using RpmsgEndpoint sink = link.Remote.CreateEndpoint("sink", (in RpmsgReceivedMessage m) => m.Hold());
        using RpmsgEndpoint ep = link.Host.CreateEndpoint("src", null, destination: sink.Address);
        ep.Send("takes the only buffer"u8);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var e = Assert.Throws<RpmsgException>(() => ep.Send("no buffer left"u8))!;
        Assert.That(e.Error, Is.EqualTo(RpmsgError.Timeout));
        Assert.That(sw.Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(290)).And.LessThan(TimeSpan.FromSeconds(10)));
    }

    [Test]
    public void ACleanStopResetsTheDeviceRatherThanFailingIt()
    {
        var link = new RpmsgLink();
        int failures = 0;
        link.Host.DeviceFailed += _ => Interlocked.Increment(ref failures);
        link.Remote.DeviceFailed += _ => Interlocked.Increment(ref failures);
        Assert.That(link.Vdev.Status.HasFlag(VirtioStatus.DriverOk), Is.True);
        link.Host.Dispose();
        Assert.That(link.Vdev.Status, Is.EqualTo(VirtioStatus.Reset), "the host resets the status, as Linux does on remove");
        link.Remote.Dispose();
        Assert.That(link.Vdev.Status.HasFlag(VirtioStatus.DeviceNeedsReset), Is.False, "a stopping remote does not claim a device error");
        Assert.That(failures, Is.Zero, "stopping is not reported as a failure");
        Assert.That(link.Host.State, Is.EqualTo(RpmsgDeviceState.Failed), "a stopped device takes no more sends");
        link.Dispose();
    }

    [Test]
    public void UsedTransmitIdNeverMadeAvailableFailsTheHost()
    {
        // Every receive id is posted, so an in-range id the host never made available can only be a transmit one.
        using var link = new RpmsgLink(startRemote: false, hostOptions: new RpmsgHostOptions { TxBufferCount = 16 });
        var failed = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        link.Host.DeviceFailed += e => failed.TrySetResult(e);
        using RpmsgEndpoint ep = link.Host.CreateEndpoint("victim", null, destination: 0x400);
        for (int i = 0; i < 16; i++) ep.Send("uses every transmit buffer"u8); // descriptors 0..15 are outstanding
        var txRing = SplitRing.Legacy(link.Memory, RpmsgLink.Base + 0x8000, 256, 0x1000);
        txRing.Used.Write(SplitRingOffsets.UsedEntry(0), new VirtqUsedElement(250, 16)); // in range, never posted
        txRing.Used.WriteU16Release(SplitRingOffsets.Index, 1);
        link.RemoteBell.Ring();
        Exception reason = RpmsgLink.Await(failed.Task, "the device failure");
        Assert.That(reason, Is.TypeOf<VirtqueueException>());
        Assert.That(((VirtqueueException)reason).Error, Is.EqualTo(VirtqueueError.UsedIdNotAvailable));
        Assert.That(link.Vdev.Status.HasFlag(VirtioStatus.Failed), Is.True);
    }
}

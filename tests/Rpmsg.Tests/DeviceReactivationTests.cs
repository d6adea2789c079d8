using AmpCan.Rpmsg;
using AmpCan.Vring;

namespace AmpCan.Tests.Rpmsg;

/// <summary>
/// The rpmsg device and driver as the virtio core runs them: a device reset and activated again on the same rings
/// (a reloaded driver, a rebooted guest) serves its services anew, and the driver's second probe finds them.
/// </summary>
public class DeviceReactivationTests
{
    [Test]
    public void ADeviceResetAndActivatedAgainServesTheNextDriver()
    {
        using var pair = new VdevPair("reactivate");
        var device = new VirtioRpmsgDevice("remote");
        int activations = 0;
        device.Activated += bus =>
        {
            activations++;
            bus.CreateEndpoint("echo", (in RpmsgReceivedMessage m) => m.Endpoint.PostTo(m.Source, m.Payload), announce: true);
        };
        var options = new RpmsgHostOptions().ForRings(256, 256);
        VirtioRpmsgRemote? first = null;
        for (int round = 1; round <= 2; round++)
        {
            var driver = new VirtioRpmsgDriver("host", options);
            pair.HostTransport.ProbeDriver(driver, pair.HostLoop, pair.Pool(options.PoolSize));
            using VirtioRpmsgHost host = driver.Bus!;
            var echo = new TaskCompletionSource<RpmsgChannel>(TaskCreationOptions.RunContinuationsAsynchronously);
            host.ChannelCreated += c => { if (c.Name == "echo") echo.TrySetResult(c); };
            Assert.That(pair.RemoteTransport.ActivateDevice(device, pair.RemoteLoop, TimeSpan.FromSeconds(20)), Is.True);
            RpmsgChannel channel = RpmsgLink.Await(echo.Task, $"round {round}: the echo announcement");
            using RpmsgEndpoint ep = host.CreateEndpoint("client", null, destination: channel.RemoteAddress);
            ep.Send(new byte[] { (byte)round, 0xA5 });
            RpmsgMessage reply = ep.Receive(TimeSpan.FromSeconds(20));
            Assert.That(reply.Payload.ToArray(), Is.EqualTo(new byte[] { (byte)round, 0xA5 }), $"round {round}: the echo");
            if (round == 1) first = device.Bus;
            // The driver goes away (status reset, as Linux's remove), then the transport resets the device.
            host.Dispose();
            Assert.That(pair.Vdev.Status, Is.EqualTo(VirtioStatus.Reset));
            device.Reset();
            Assert.That(device.Bus, Is.Null);
        }
        Assert.That(activations, Is.EqualTo(2));
        Assert.That(first!.State, Is.EqualTo(RpmsgDeviceState.Failed), "the first activation's bus is torn down by the reset");
    }
}

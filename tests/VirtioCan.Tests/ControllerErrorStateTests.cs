using System.Diagnostics;
using AmpCan.VirtioCan;
using static AmpCan.Tests.VirtioCan.VirtioCanDeviceTests;

namespace AmpCan.Tests.VirtioCan;

/// <summary>
/// The controller's error state from the back end's error frames (include/uapi/linux/can/error.h): warning and
/// passive are kept and logged but leave the config status alone (virtio-can has only BUSOFF); bus-off sets it; after
/// bus-off only START brings the controller back, whatever the back end reports in between.
/// </summary>
public class ControllerErrorStateTests
{
    private const uint ControllerClass = 0x04, BusOffClass = 0x40, RestartedClass = 0x100;

    private static CanFrame ErrorFrame(uint classes, byte controller = 0)
    {
        var f = new CanFrame { Id = classes, Kind = CanFrameKind.Error, Length = 8 };
        f.Payload[1] = controller;
        return f;
    }

    private static void WaitFor(VirtioCanDevice device, CanErrorState state)
    {
        var clock = Stopwatch.StartNew();
        while (device.ErrorState != state)
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(10)) throw new AssertionException($"the device did not reach {state} within 10 s (it is {device.ErrorState})");
            Thread.Yield();
        }
    }

    private static ushort Status(CanLink link)
    {
        byte[] status = new byte[2];
        link.Device.ReadConfig(0, status);
        return (ushort)(status[0] | status[1] << 8);
    }

    [Test]
    public void WarningAndPassiveAreKeptWithoutTouchingTheStatusAndBusOffNeedsStart()
    {
        var port = new HeldEchoPort();
        using var link = new CanLink(ClassicFeature, port);
        Assert.That(link.Request(2, StartRequest), Is.EqualTo(0));
        Assert.That(link.Device.ErrorState, Is.EqualTo(CanErrorState.Active));

        port.Deliver(ErrorFrame(ControllerClass, controller: 0x08)); // CAN_ERR_CRTL_TX_WARNING
        WaitFor(link.Device, CanErrorState.Warning);
        port.Deliver(ErrorFrame(ControllerClass, controller: 0x10)); // CAN_ERR_CRTL_RX_PASSIVE
        WaitFor(link.Device, CanErrorState.Passive);
        Assert.That((Status(link), link.Device.IsStarted), Is.EqualTo(((ushort)0, true)), "passive: still started, no BUSOFF");
        Assert.That(link.Request(0, TxMessage(0x123, 0, 1)), Is.EqualTo(0), "an error-passive controller still transmits");

        port.Deliver(ErrorFrame(ControllerClass, controller: 0x40)); // CAN_ERR_CRTL_ACTIVE
        WaitFor(link.Device, CanErrorState.Active);

        port.Deliver(ErrorFrame(BusOffClass));
        WaitFor(link.Device, CanErrorState.BusOff);
        Assert.That((Status(link), link.Device.IsStarted), Is.EqualTo(((ushort)1, false)));
        port.Deliver(ErrorFrame(RestartedClass)); // the back end restarted its controller on its own (restart-ms)
        Assert.That(link.Request(0, TxMessage(0x123, 0, 1)), Is.EqualTo(1), "still bus-off for the driver: a pass ran after the restart report");
        Assert.That(link.Device.ErrorState, Is.EqualTo(CanErrorState.BusOff), "only START leaves bus-off");

        Assert.That(link.Request(2, StartRequest), Is.EqualTo(0));
        Assert.That((link.Device.ErrorState, Status(link)), Is.EqualTo((CanErrorState.Active, (ushort)0)));
    }
}

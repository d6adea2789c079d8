using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Validation;
using AmpCan.VirtioCan.Wire;

namespace AmpCan.Tests.VirtioCan;

public class ControllerStateTests
{
    // What the controller asked the device to do, in order.
    private readonly List<string> _events = [];

    private VirtioCanControllerState NewController() =>
        new(() => _events.Add("cancel"), () => _events.Add("config-change"));

    [SetUp]
    public void Clear() => _events.Clear();

    [Test]
    public void StartsStoppedWithStatusZeroAndRejectsTransmits()
    {
        VirtioCanControllerState c = NewController();
        Assert.That(c.IsStarted, Is.False);
        Assert.That(c.Status, Is.EqualTo(0));
        Assert.That(c.AdmitTransmit(), Is.EqualTo(VirtioCanRejection.ControllerStopped));
        Assert.That(_events, Is.Empty);
    }

    [Test]
    public void StartFromLiteralBytesAdmitsTransmits()
    {
        VirtioCanControllerState c = NewController();
        Assert.That(c.Control(new byte[] { 0x01, 0x02 }), Is.EqualTo(VirtioCanResult.Ok));
        Assert.That(c.IsStarted, Is.True);
        Assert.That(c.AdmitTransmit(), Is.EqualTo(VirtioCanRejection.None));
        Assert.That(_events, Is.Empty);
    }

    [Test]
    public void StopCancelsPendingTransmitsBeforeAnswering()
    {
        VirtioCanControllerState c = NewController();
        c.Control(VirtioCanMessageType.Start);
        VirtioCanResult result = c.Control(new byte[] { 0x02, 0x02 });
        Assert.That(result, Is.EqualTo(VirtioCanResult.Ok));
        Assert.That(c.IsStarted, Is.False);
        Assert.That(_events, Is.EqualTo(new[] { "cancel" }), "pending transmits cancelled once, within the STOP, no notification");
        Assert.That(c.AdmitTransmit(), Is.EqualTo(VirtioCanRejection.ControllerStopped));
    }

    [Test]
    public void StartWhileStartedAndStopWhileStoppedAreOkAndChangeNothing()
    {
        VirtioCanControllerState c = NewController();
        Assert.That(c.Control(VirtioCanMessageType.Stop), Is.EqualTo(VirtioCanResult.Ok));
        Assert.That(c.IsStarted, Is.False);
        Assert.That(_events, Is.Empty, "nothing to cancel when already stopped");
        c.Control(VirtioCanMessageType.Start);
        Assert.That(c.Control(VirtioCanMessageType.Start), Is.EqualTo(VirtioCanResult.Ok));
        Assert.That(c.IsStarted, Is.True);
        Assert.That(_events, Is.Empty, "a second START cancels nothing");
    }

    [Test]
    public void RequestsAreProcessedInOrder()
    {
        VirtioCanControllerState c = NewController();
        VirtioCanMessageType[] queue = [VirtioCanMessageType.Start, VirtioCanMessageType.Stop, VirtioCanMessageType.Start];
        bool[] startedAfter = queue.Select(r => { c.Control(r); return c.IsStarted; }).ToArray();
        Assert.That(startedAfter, Is.EqualTo(new[] { true, false, true }));
        Assert.That(_events, Is.EqualTo(new[] { "cancel" }));
    }

    [Test]
    public void UnknownOrShortControlRequestIsNotOkAndChangesNothing()
    {
        VirtioCanControllerState c = NewController();
        c.Control(VirtioCanMessageType.Start);
        Assert.That(c.Control(new byte[] { 0x01, 0x00 }), Is.EqualTo(VirtioCanResult.NotOk), "VIRTIO_CAN_TX on the Controlq");
        Assert.That(c.Control(new byte[] { 0x03, 0x02 }), Is.EqualTo(VirtioCanResult.NotOk), "0x0203 is no control type");
        Assert.That(c.Control(new byte[] { 0x02 }), Is.EqualTo(VirtioCanResult.NotOk), "one byte of a STOP");
        Assert.That(c.IsStarted, Is.True);
        Assert.That(_events, Is.Empty);
    }

    [Test]
    public void BusOffStopsSetsBitCancelsThenNotifies()
    {
        VirtioCanControllerState c = NewController();
        c.Control(VirtioCanMessageType.Start);
        Assert.That(c.EnterBusOff(), Is.True);
        Assert.That(c.IsStarted, Is.False);
        Assert.That(c.Status, Is.EqualTo(VirtioCanConfig.StatusBusOff));
        byte[] config = new byte[2];
        c.Config.Write(config);
        Assert.That(config, Is.EqualTo(new byte[] { 0x01, 0x00 }));
        Assert.That(_events, Is.EqualTo(new[] { "cancel", "config-change" }));
        Assert.That(c.AdmitTransmit(), Is.EqualTo(VirtioCanRejection.ControllerStopped));
    }

    [Test]
    public void BusOffWhileStoppedDoesNothing()
    {
        VirtioCanControllerState c = NewController();
        Assert.That(c.EnterBusOff(), Is.False);
        Assert.That(c.Status, Is.EqualTo(0));
        Assert.That(_events, Is.Empty);
    }

    [Test]
    public void StartAfterBusOffRecoversAndClearsTheBitWithoutNotifying()
    {
        VirtioCanControllerState c = NewController();
        c.Control(VirtioCanMessageType.Start);
        c.EnterBusOff();
        _events.Clear();
        Assert.That(c.Control(VirtioCanMessageType.Start), Is.EqualTo(VirtioCanResult.Ok));
        Assert.That(c.IsStarted, Is.True);
        Assert.That(c.Status, Is.EqualTo(0));
        Assert.That(c.AdmitTransmit(), Is.EqualTo(VirtioCanRejection.None));
        Assert.That(_events, Is.Empty, "driver-requested status change: no config-change notification");
    }

    [Test]
    public void StopAfterBusOffKeepsTheBitUntilStart()
    {
        VirtioCanControllerState c = NewController();
        c.Control(VirtioCanMessageType.Start);
        c.EnterBusOff();
        Assert.That(c.Control(VirtioCanMessageType.Stop), Is.EqualTo(VirtioCanResult.Ok));
        Assert.That(c.Status, Is.EqualTo(VirtioCanConfig.StatusBusOff));
    }

    [Test]
    public void ResetReturnsToStoppedWithStatusZeroWithoutCallbacks()
    {
        VirtioCanControllerState c = NewController();
        c.Control(VirtioCanMessageType.Start);
        c.EnterBusOff();
        _events.Clear();
        c.Reset();
        Assert.That(c.Status, Is.EqualTo(0), "bus-off bit cleared by reset");
        c.Control(VirtioCanMessageType.Start);
        c.Reset();
        Assert.That(c.IsStarted, Is.False, "started controller stopped by reset");
        Assert.That(_events, Is.Empty);
    }
}

using AmpCan.SharedMem.Doorbells;
using AmpCan.Vring;

namespace AmpCan.Tests.Vring;

/// <summary>The driver side's bring-up as Linux's virtio_dev_probe does it, whatever the transport.</summary>
public class VirtioDriverLifecycleTests
{
    /// <summary>Registers that record every status the driver writes; a device may refuse FEATURES_OK.</summary>
    private sealed class RecordingRegisters(uint deviceId, ulong offered, bool refuseFeatures = false) : IVirtioConfig
    {
        private VirtioStatus _status = VirtioStatus.DriverOk; // a stale status from an earlier driver: the probe must reset it
        public readonly List<byte> Writes = [];
        public uint DeviceId => deviceId;
        public ulong DeviceFeatures => offered;
        public ulong DriverFeatures { get; set; }
        public VirtioStatus Status
        {
            get => _status;
            set
            {
                Writes.Add((byte)value);
                _status = refuseFeatures ? value & ~VirtioStatus.FeaturesOk : value;
            }
        }
        public int QueueCount => 0;
        public int ConfigLength => 0;
        public void ReadConfig(int offset, Span<byte> destination) { }
        public void WriteConfig(int offset, ReadOnlySpan<byte> source) { }
    }

    private sealed class Driver(ulong supported, bool setsReady, bool throws = false) : IVirtioDriver
    {
        public VirtioDriverContext? Context;
        public uint DeviceId => 7;
        public ulong SupportedFeatures => supported;
        public void Probe(VirtioDriverContext context)
        {
            Context = context;
            if (throws) throw new InvalidOperationException("probe failed");
            if (setsReady) context.SetDriverOk();
        }
    }

    private static VirtioDriverContext Bind(IVirtioConfig r, ulong features, NotificationLoop loop) => new(r, features, [], null, loop, []);

    [Test]
    public void StatusGoesResetAcknowledgeDriverFeaturesOkDriverOkAndFeaturesAreTheIntersection()
    {
        using var loop = new NotificationLoop("lifecycle", NotificationMode.Doorbell);
        var regs = new RecordingRegisters(7, offered: 0b1011 | (1UL << 32));
        var driver = new Driver(supported: 0b0110 | (1UL << 32), setsReady: true);
        ulong features = VirtioDriverLifecycle.Probe(driver, regs, f => Bind(regs, f, loop));
        Assert.That(features, Is.EqualTo(0b0010 | (1UL << 32)), "offered ∩ supported, above bit 31 too");
        Assert.That(regs.DriverFeatures, Is.EqualTo(features));
        Assert.That(driver.Context!.Features, Is.EqualTo(features));
        Assert.That(regs.Writes, Is.EqualTo(new byte[] { 0x00, 0x01, 0x03, 0x0b, 0x0f }));
    }

    [Test]
    public void ADriverThatDoesNotSayItIsReadyIsMadeReadyAfterItsProbe()
    {
        using var loop = new NotificationLoop("lifecycle", NotificationMode.Doorbell);
        var regs = new RecordingRegisters(7, offered: 1);
        VirtioDriverLifecycle.Probe(new Driver(1, setsReady: false), regs, f => Bind(regs, f, loop));
        Assert.That(regs.Status, Is.EqualTo(VirtioStatus.Acknowledge | VirtioStatus.Driver | VirtioStatus.FeaturesOk | VirtioStatus.DriverOk));
    }

    [Test]
    public void AFeatureRefusalOrAFailedProbeMarksTheDeviceFailed()
    {
        using var loop = new NotificationLoop("lifecycle", NotificationMode.Doorbell);
        var refusing = new RecordingRegisters(7, offered: 1, refuseFeatures: true);
        var driver = new Driver(1, setsReady: true);
        Assert.That(() => VirtioDriverLifecycle.Probe(driver, refusing, f => Bind(refusing, f, loop)),
            Throws.TypeOf<VirtioException>().With.Message.Contains("refused features 0x1"));
        Assert.That(driver.Context, Is.Null, "a driver is not probed on a device that refused its features");
        Assert.That(refusing.Status & VirtioStatus.Failed, Is.EqualTo(VirtioStatus.Failed));

        var regs = new RecordingRegisters(7, offered: 1);
        Assert.That(() => VirtioDriverLifecycle.Probe(new Driver(1, setsReady: false, throws: true), regs, f => Bind(regs, f, loop)),
            Throws.InvalidOperationException);
        Assert.That(regs.Status & (VirtioStatus.Failed | VirtioStatus.DriverOk), Is.EqualTo(VirtioStatus.Failed));
    }

    [Test]
    public void AnotherDevicesDriverIsRefusedBeforeTheStatusIsTouched()
    {
        using var loop = new NotificationLoop("lifecycle", NotificationMode.Doorbell);
        var can = new RecordingRegisters(36, offered: 1);
        Assert.That(() => VirtioDriverLifecycle.Probe(new Driver(1, true), can, f => Bind(can, f, loop)),
            Throws.TypeOf<VirtioException>().With.Message.Contains("36 is not the driver's (7)"));
        Assert.That(can.Writes, Is.Empty);
    }
}

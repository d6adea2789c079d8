using AmpCan.Remoteproc;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Vring;

namespace AmpCan.Tests.VirtioCan;

/// <summary>
/// Serves a device on a resource-table vdev with its config space where the driver reads it: in the table. The table
/// follows the device's config on every pass of the device's loop (virtio-can's START clears BUSOFF without a
/// notification), and a config change the device signals is written there at once and rings the driver's doorbell
/// with the vdev's notify id.
/// </summary>
/// <remarks>
/// What <see cref="VdevTransport.ActivateDevice"/> does not do yet (its device context has no config-change path and
/// nothing copies the device's config into the table): a stand-in until the transport does, proposed to the lead.
/// </remarks>
internal sealed class TableConfigDevice(IVirtioDevice device, VdevResource vdev, Doorbell toDriver) : IVirtioDevice
{
    private Mirror? _mirror;
    private NotificationLoop? _loop;

    public uint DeviceId => device.DeviceId;
    public ulong DeviceFeatures => device.DeviceFeatures;
    public int QueueCount => device.QueueCount;
    public int MaxQueueSize => device.MaxQueueSize;
    public int ConfigLength => device.ConfigLength;
    public void ReadConfig(int offset, Span<byte> destination) => device.ReadConfig(offset, destination);
    public void WriteConfig(int offset, ReadOnlySpan<byte> source) => device.WriteConfig(offset, source);

    public void Activate(VirtioDeviceContext context)
    {
        _mirror = new Mirror(device, vdev);
        _mirror.Copy();
        device.Activate(new VirtioDeviceContext(vdev, context.Features, context.Queues, context.Memory, context.Loop, context.Incoming, Changed));
        _loop = context.Loop;
        _loop.Add(_mirror);
    }

    private bool Changed()
    {
        _mirror?.Copy();
        toDriver.Ring(vdev.NotifyId);
        return true;
    }

    public void Reset()
    {
        if (_mirror is not null) _loop?.RemoveAndWait(_mirror);
        device.Reset();
    }

    private sealed class Mirror(IVirtioDevice device, VdevResource vdev) : INotificationHandler
    {
        private readonly byte[] _now = new byte[device.ConfigLength], _table = new byte[device.ConfigLength];

        public void Copy()
        {
            device.ReadConfig(0, _now);
            vdev.ReadConfig(0, _table);
            if (!_now.AsSpan().SequenceEqual(_table)) vdev.WriteConfig(0, _now);
        }

        public bool Process()
        {
            Copy();
            return false;
        }

        public bool ArmNotifications()
        {
            Copy();
            return false;
        }

        public void DisarmNotifications() { }
    }
}

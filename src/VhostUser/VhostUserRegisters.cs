using AmpCan.Vring;

namespace AmpCan.VhostUser;

/// <summary>
/// The virtio registers of a device served over vhost-user: the front end keeps the real status byte (in QEMU), so
/// here it only records what the back end learns: the features offered and accepted, config space (the device's
/// own), and a device's DEVICE_NEEDS_RESET, which is passed on by signalling each queue's error eventfd.
/// </summary>
internal sealed class VhostUserRegisters(IVirtioDevice device, ulong offeredFeatures, Action needsReset) : IVirtioConfig
{
    private int _status;
    private long _driverFeatures;

    public uint DeviceId => device.DeviceId;

    public ulong DeviceFeatures => offeredFeatures;

    public ulong DriverFeatures
    {
        get => (ulong)Interlocked.Read(ref _driverFeatures);
        set => Interlocked.Exchange(ref _driverFeatures, (long)value);
    }

    public VirtioStatus Status
    {
        get => (VirtioStatus)Volatile.Read(ref _status);
        set
        {
            int before = Interlocked.Exchange(ref _status, (int)value);
            if ((value & VirtioStatus.DeviceNeedsReset) != 0 && (before & (int)VirtioStatus.DeviceNeedsReset) == 0) needsReset();
        }
    }

    public int QueueCount => device.QueueCount;

    public int ConfigLength => device.ConfigLength;

    public void ReadConfig(int offset, Span<byte> destination)
    {
        CheckRange(offset, destination.Length);
        device.ReadConfig(offset, destination);
    }

    public void WriteConfig(int offset, ReadOnlySpan<byte> source)
    {
        CheckRange(offset, source.Length);
        device.WriteConfig(offset, source);
    }

    private void CheckRange(int offset, int length)
    {
        if (offset < 0 || length < 0 || offset > device.ConfigLength || length > device.ConfigLength - offset)
            throw new ArgumentOutOfRangeException(nameof(offset), $"config range {offset}+{length} is outside the {device.ConfigLength}-byte config space");
    }
}

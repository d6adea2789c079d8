namespace AmpCan.Vring;

/// <summary>
/// A transport's registers for one virtio device: status byte, feature bits and config space, wherever they live (a
/// remoteproc resource-table vdev entry, the messages of a vhost-user session). Both roles use it: the driver writes
/// status and accepted features, the device reads them.
/// </summary>
public interface IVirtioConfig
{
    /// <summary>Virtio device id (7 rpmsg, 36 CAN).</summary>
    uint DeviceId { get; }

    /// <summary>Features the device offers.</summary>
    ulong DeviceFeatures { get; }

    /// <summary>Features the driver accepted (written by the driver before FEATURES_OK).</summary>
    ulong DriverFeatures { get; set; }

    /// <summary>The device status byte; writes are release stores, reads acquire loads.</summary>
    VirtioStatus Status { get; set; }

    /// <summary>Number of virtqueues the device has.</summary>
    int QueueCount { get; }

    /// <summary>Bytes of device-specific config space.</summary>
    int ConfigLength { get; }

    /// <summary>Copies config space out (bounds-checked against <see cref="ConfigLength"/>).</summary>
    void ReadConfig(int offset, Span<byte> destination);

    /// <summary>Writes config space (bounds-checked against <see cref="ConfigLength"/>).</summary>
    void WriteConfig(int offset, ReadOnlySpan<byte> source);
}

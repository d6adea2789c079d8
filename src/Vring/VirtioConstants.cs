namespace AmpCan.Vring;

/// <summary>Descriptor flags (virtio 1.x §2.7.5).</summary>
[Flags]
public enum VirtqDescFlags : ushort
{
    /// <summary>No flags: a device-readable buffer that ends the chain.</summary>
    None = 0,
    /// <summary>VIRTQ_DESC_F_NEXT: the chain continues at <c>next</c>.</summary>
    Next = 1,
    /// <summary>VIRTQ_DESC_F_WRITE: device-writable (otherwise device-readable).</summary>
    Write = 2,
    /// <summary>VIRTQ_DESC_F_INDIRECT: the buffer holds a table of descriptors.</summary>
    Indirect = 4,
}

/// <summary>Available-ring flags, written by the driver.</summary>
[Flags]
public enum VirtqAvailFlags : ushort
{
    /// <summary>No flags.</summary>
    None = 0,
    /// <summary>VIRTQ_AVAIL_F_NO_INTERRUPT: the driver does not want used-buffer notifications.</summary>
    NoInterrupt = 1,
}

/// <summary>Used-ring flags, written by the device.</summary>
[Flags]
public enum VirtqUsedFlags : ushort
{
    /// <summary>No flags.</summary>
    None = 0,
    /// <summary>VIRTQ_USED_F_NO_NOTIFY: the device does not want available-buffer notifications.</summary>
    NoNotify = 1,
}

/// <summary>Transport feature bits that concern the ring (virtio 1.x §6).</summary>
public static class VirtioRingFeatures
{
    /// <summary>VIRTIO_RING_F_INDIRECT_DESC.</summary>
    public const int IndirectDescriptors = 28;
    /// <summary>VIRTIO_RING_F_EVENT_IDX.</summary>
    public const int EventIndex = 29;
    /// <summary>VIRTIO_F_VERSION_1.</summary>
    public const int Version1 = 32;
    /// <summary>VIRTIO_F_RING_PACKED.</summary>
    public const int RingPacked = 34;
    /// <summary>VIRTIO_F_IN_ORDER.</summary>
    public const int InOrder = 35;

    /// <summary>The mask of one feature bit.</summary>
    public static ulong Bit(int feature) => 1UL << feature;

    /// <summary>True when <paramref name="features"/> has bit <paramref name="feature"/>.</summary>
    public static bool Has(ulong features, int feature) => (features & Bit(feature)) != 0;
}

/// <summary>Device status bits (virtio 1.x §2.1), as kept in the resource table's vdev status byte.</summary>
[Flags]
public enum VirtioStatus : byte
{
    /// <summary>Reset.</summary>
    Reset = 0,
    /// <summary>The driver has noticed the device.</summary>
    Acknowledge = 1,
    /// <summary>The driver knows how to drive the device.</summary>
    Driver = 2,
    /// <summary>The driver is set up and ready to drive the device.</summary>
    DriverOk = 4,
    /// <summary>Feature negotiation is complete.</summary>
    FeaturesOk = 8,
    /// <summary>The device has hit an error it cannot recover from without a reset.</summary>
    DeviceNeedsReset = 0x40,
    /// <summary>The driver gave up on the device.</summary>
    Failed = 0x80,
}

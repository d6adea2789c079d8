namespace AmpCan.Vring;

/// <summary>
/// Device logic: the role that serves a virtio device (as a QEMU device model or rust-vmm's <c>VhostUserBackend</c>),
/// written once and run over any transport. It never learns how its rings were found or how kicks travel.
/// </summary>
/// <remarks>
/// A transport calls <see cref="Activate"/> when the driver has set DRIVER_OK and every queue is ready, and
/// <see cref="Reset"/> when the driver resets the device or goes away; then it may activate it again (a reloaded
/// driver, a rebooted guest, a new front end). The device is activated at most once at a time.
/// </remarks>
public interface IVirtioDevice
{
    /// <summary>Virtio device id (7 rpmsg, 36 CAN).</summary>
    uint DeviceId { get; }

    /// <summary>The device-specific and ring features this device implements; a transport adds its own (VERSION_1 where it requires it).</summary>
    ulong DeviceFeatures { get; }

    /// <summary>How many virtqueues the device has.</summary>
    int QueueCount { get; }

    /// <summary>The largest queue the device accepts (a power of two).</summary>
    int MaxQueueSize { get; }

    /// <summary>Bytes of device-specific config space.</summary>
    int ConfigLength { get; }

    /// <summary>Copies config space out; the transport has checked the range against <see cref="ConfigLength"/>.</summary>
    void ReadConfig(int offset, Span<byte> destination);

    /// <summary>The driver writes config space; the transport has checked the range against <see cref="ConfigLength"/>.</summary>
    void WriteConfig(int offset, ReadOnlySpan<byte> source);

    /// <summary>The driver set DRIVER_OK: serve the queues of <paramref name="context"/> on its loop until <see cref="Reset"/>.</summary>
    void Activate(VirtioDeviceContext context);

    /// <summary>Stops using the queues; once this returns, nothing of the device touches them or their memory again.</summary>
    void Reset();
}

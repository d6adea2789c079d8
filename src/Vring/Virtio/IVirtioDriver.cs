namespace AmpCan.Vring;

/// <summary>
/// Driver logic: the role that uses a virtio device (as a Linux <c>virtio_driver</c>), written once and run over any
/// transport.
/// </summary>
/// <remarks>
/// <see cref="VirtioDriverLifecycle.Probe"/> negotiates features and then calls <see cref="Probe"/>, which sets up
/// its queues, calls <see cref="VirtioDriverContext.SetDriverOk"/> once they are ready (before its first kick, as
/// Linux's <c>virtio_device_ready</c>) and hands the queues to the context's loop.
/// </remarks>
public interface IVirtioDriver
{
    /// <summary>The virtio device id this driver drives.</summary>
    uint DeviceId { get; }

    /// <summary>Features the driver accepts when the device offers them.</summary>
    ulong SupportedFeatures { get; }

    /// <summary>Takes the device over: its queues, its negotiated features, its loop.</summary>
    void Probe(VirtioDriverContext context);

    /// <summary>
    /// Takes over a device another driver left running (DRIVER_OK set, queues live): adopts the queues where they stand
    /// (<see cref="VirtioDriverContext.AdoptQueue"/>), never resetting or clearing them. Drivers that cannot say so.
    /// </summary>
    /// <exception cref="VirtioException">This driver cannot take over a running device.</exception>
    void Adopt(VirtioDriverContext context) => throw new VirtioException($"the driver for device id {DeviceId} cannot take over a running device");
}

namespace AmpCan.Vring;

/// <summary>
/// The driver side's bring-up, once for every transport and driver, as Linux's <c>virtio_dev_probe</c>: reset,
/// ACKNOWLEDGE, DRIVER, features (what the device offers and the driver accepts), FEATURES_OK read back, then the
/// driver's probe, which sets DRIVER_OK when its queues are ready.
/// </summary>
public static class VirtioDriverLifecycle
{
    /// <summary>
    /// Brings <paramref name="driver"/> up on the device behind <paramref name="registers"/>; <paramref name="bind"/>
    /// builds the transport's context for the negotiated features. Returns those features.
    /// </summary>
    /// <exception cref="VirtioException">The device is not the driver's, or refused the features (the device is marked FAILED).</exception>
    public static ulong Probe(IVirtioDriver driver, IVirtioConfig registers, Func<ulong, VirtioDriverContext> bind)
    {
        if (registers.DeviceId != driver.DeviceId)
            throw new VirtioException($"virtio device id {registers.DeviceId} is not the driver's ({driver.DeviceId})");
        registers.Status = VirtioStatus.Reset;
        registers.Status = VirtioStatus.Acknowledge;
        registers.Status = VirtioStatus.Acknowledge | VirtioStatus.Driver;
        ulong features = registers.DeviceFeatures & driver.SupportedFeatures;
        registers.DriverFeatures = features;
        registers.Status |= VirtioStatus.FeaturesOk;
        if ((registers.Status & VirtioStatus.FeaturesOk) == 0)
        {
            registers.Status |= VirtioStatus.Failed;
            throw new VirtioException($"the device refused features 0x{features:x}");
        }
        try
        {
            driver.Probe(bind(features));
        }
        catch
        {
            registers.Status |= VirtioStatus.Failed;
            throw;
        }
        // As Linux: a driver that did not say it is ready is made ready after its probe.
        if ((registers.Status & VirtioStatus.DriverOk) == 0) registers.Status |= VirtioStatus.DriverOk;
        return features;
    }
}

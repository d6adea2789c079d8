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

    /// <summary>
    /// Attaches <paramref name="driver"/> to a device that may already be running, as Linux's remoteproc attaches to a
    /// core a bootloader or an earlier host started: a device no driver has brought up (status 0, or a bring-up that
    /// never reached DRIVER_OK) is probed as usual; one with DRIVER_OK is taken over as it is (<see cref="IVirtioDriver.Adopt"/>),
    /// with the features the driver before accepted, status and queues untouched. Returns the features and whether it
    /// was taken over.
    /// </summary>
    /// <exception cref="VirtioException">The device is not the driver's, needs a reset or failed, or the driver before
    /// accepted features this one does not support.</exception>
    public static (ulong Features, bool TakenOver) Attach(IVirtioDriver driver, IVirtioConfig registers, Func<ulong, VirtioDriverContext> bind)
    {
        if (registers.DeviceId != driver.DeviceId)
            throw new VirtioException($"virtio device id {registers.DeviceId} is not the driver's ({driver.DeviceId})");
        VirtioStatus status = registers.Status;
        if ((status & (VirtioStatus.Failed | VirtioStatus.DeviceNeedsReset)) != 0)
            throw new VirtioException($"the device's status is 0x{(byte)status:x2} ({((status & VirtioStatus.Failed) != 0 ? "FAILED" : "DEVICE_NEEDS_RESET")}): it cannot be taken over, only reset with its core");
        if ((status & (VirtioStatus.DriverOk | VirtioStatus.FeaturesOk)) != (VirtioStatus.DriverOk | VirtioStatus.FeaturesOk))
            return (Probe(driver, registers, bind), false);
        ulong accepted = registers.DriverFeatures;
        ulong features = accepted & registers.DeviceFeatures;
        if ((features & ~driver.SupportedFeatures) != 0)
            throw new VirtioException($"the driver before accepted features 0x{features:x}; this one supports 0x{driver.SupportedFeatures:x} (0x{features & ~driver.SupportedFeatures:x} unknown to it)");
        driver.Adopt(bind(features));
        return (features, true);
    }
}

namespace AmpCan.Host.Bench;

/// <summary>
/// What the two loops of a CAN case did in its timed window, per frame: how often each parked in epoll, and how many
/// notifications each side rang (the driver's kicks, the device's used-buffer interrupts). Together they show whether
/// a case waited the way its mode says and what its notifications cost.
/// </summary>
internal readonly record struct CanWindow(CanTestbed Bed, LoopParks Parks, long DriverRingsAtStart, long DeviceRingsAtStart, double DriverRingsPerFrame, double DeviceRingsPerFrame)
{
    /// <summary>Notes the loops' parks and both doorbells' rings at the start of the window.</summary>
    public static CanWindow Start(CanTestbed bed) => new(bed, LoopParks.Start(bed.DriverLoop, bed.DeviceLoop), bed.DriverRings, bed.DeviceRings, 0, 0);

    /// <summary>The figures per frame over the window that ends now, in which <paramref name="frames"/> moved.</summary>
    public CanWindow Stop(long frames) => this with
    {
        Parks = Parks.Stop(frames),
        DriverRingsPerFrame = (Bed.DriverRings - DriverRingsAtStart) / (double)frames,
        DeviceRingsPerFrame = (Bed.DeviceRings - DeviceRingsAtStart) / (double)frames,
    };

    /// <summary>Adds the figures to <paramref name="report"/> under <paramref name="key"/>.</summary>
    public void AddTo(BenchReport report, string key)
    {
        Parks.AddTo(report, key, "driver", "device", "frame");
        const string Section = "notifications (doorbell rings per frame, timed window of the reported run)";
        report.Add(Section, $"{key}.driver_rings_per_frame", DriverRingsPerFrame, $"{DriverRingsPerFrame:F3} (driver -> device kicks)");
        report.Add(Section, $"{key}.device_rings_per_frame", DeviceRingsPerFrame, $"{DeviceRingsPerFrame:F3} (device -> driver interrupts)");
    }
}

using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Vring;

namespace AmpCan.Remoteproc;

/// <summary>
/// A resource-table vdev as a virtio transport, as Linux's <c>remoteproc_virtio.c</c>: the status byte,
/// <c>dfeatures</c>/<c>gfeatures</c> and config space live in the table, each vring sits at the device address the
/// table gives (legacy layout), and kicks travel over the board's doorbell with the vring's notify id. Serves either
/// role: a driver on the host (<see cref="ProbeDriver"/>), a device on the remote (<see cref="ActivateDevice"/>).
/// </summary>
public sealed class VdevTransport
{
    private readonly VdevResource _vdev;
    private readonly MemoryMap _memory;
    private readonly Doorbell _doorbell;
    private IReadOnlyList<VirtqueueSetup>? _queues;

    /// <summary>The vdev <paramref name="vdev"/>, its vrings resolved in <paramref name="memory"/>, kicked through <paramref name="doorbell"/>.</summary>
    public VdevTransport(VdevResource vdev, MemoryMap memory, Doorbell doorbell)
    {
        _vdev = vdev;
        _memory = memory;
        _doorbell = doorbell;
    }

    /// <summary>The vdev entry (status, features, config).</summary>
    public VdevResource Vdev => _vdev;

    /// <summary>The vdev's vrings as queues, notified with their notify ids.</summary>
    /// <exception cref="ResourceTableException">A vring without an address yet, or one that does not fit the memory.</exception>
    public IReadOnlyList<VirtqueueSetup> Queues => _queues ??= Enumerable.Range(0, _vdev.QueueCount).Select(Queue).ToArray();

    private VirtqueueSetup Queue(int index)
    {
        VringResource r = _vdev.Vring(index);
        if (r.DeviceAddress == Wire.ResourceTableLayout.AddressAny)
            throw new ResourceTableException($"vdev {_vdev.Index} vring {r.Index} has no address yet (FW_RSC_ADDR_ANY); allocate it first");
        try
        {
            return new VirtqueueSetup(index, SplitRing.Legacy(_memory, r.DeviceAddress, (int)r.QueueSize, r.Align), new VirtqueueNotifier(_doorbell, r.NotifyId));
        }
        catch (ArgumentException e)
        {
            throw new ResourceTableException($"vdev {_vdev.Index} vring {r.Index}: {e.Message}");
        }
    }

    /// <summary>
    /// The host role: negotiates with the remote's device through the table and probes <paramref name="driver"/>,
    /// whose buffers go in <paramref name="bufferMemory"/> (host memory the remote can address). Returns the features.
    /// </summary>
    public ulong ProbeDriver(IVirtioDriver driver, NotificationLoop loop, IoRegion? bufferMemory) =>
        VirtioDriverLifecycle.Probe(driver, _vdev, features => new VirtioDriverContext(_vdev, features, Queues, bufferMemory, loop, [_doorbell]));

    /// <summary>
    /// The host role on a remote that may be running already (attach): a vdev no host brought up is probed as by
    /// <see cref="ProbeDriver"/>; one with DRIVER_OK is taken over as it stands (<see cref="VirtioDriverLifecycle.Attach"/>),
    /// its status, features and vrings untouched. Returns the features and whether it was taken over.
    /// </summary>
    public (ulong Features, bool TakenOver) AttachDriver(IVirtioDriver driver, NotificationLoop loop, IoRegion? bufferMemory) =>
        VirtioDriverLifecycle.Attach(driver, _vdev, features => new VirtioDriverContext(_vdev, features, Queues, bufferMemory, loop, [_doorbell]));

    /// <summary>
    /// The remote role: waits for the host's DRIVER_OK (polling the status byte, as OpenAMP's remote does; there is no
    /// notification for it), then activates <paramref name="device"/> with what both sides agreed on. False if DRIVER_OK
    /// did not come in time or the wait was cancelled.
    /// </summary>
    /// <exception cref="VirtioException">The vdev is not that device's, or has fewer vrings than it needs.</exception>
    public bool ActivateDevice(IVirtioDevice device, NotificationLoop loop, TimeSpan waitForDriver, CancellationToken cancellation = default)
    {
        if (_vdev.DeviceId != device.DeviceId)
            throw new VirtioException($"vdev {_vdev.Index} has device id {_vdev.DeviceId}, not the device's ({device.DeviceId})");
        if (_vdev.QueueCount < device.QueueCount)
            throw new VirtioException($"vdev {_vdev.Index} has {_vdev.QueueCount} vrings; device {device.DeviceId} needs {device.QueueCount}");
        if (WaitForDriver(device.DeviceFeatures, loop, waitForDriver, cancellation, () => PublishConfig(device), () => MirrorConfig(device)) is not VirtioDeviceContext context)
            return false;
        MirrorConfig(device);
        device.Activate(context);
        return true;
    }

    // A vdev's config space is bytes in the table the driver reads directly: the device's view is copied there, as far
    // as the table has room (the firmware chose config_len).
    private void MirrorConfig(IVirtioDevice device)
    {
        int n = Math.Min(device.ConfigLength, _vdev.ConfigLength);
        if (n <= 0) return;
        Span<byte> config = stackalloc byte[n];
        device.ReadConfig(0, config);
        _vdev.WriteConfig(0, config);
    }

    // A configuration change: the new bytes go in the table first, then the vdev's own notify id is rung (what
    // OpenAMP's rproc_virtio_notify uses for vdev-wide events); the driver re-reads the config when it sees it.
    private bool PublishConfig(IVirtioDevice device)
    {
        MirrorConfig(device);
        _doorbell.Ring(_vdev.NotifyId);
        return true;
    }

    /// <summary>
    /// Waits for the host's DRIVER_OK and returns the device side's context: the features the host accepted of those
    /// the table and <paramref name="deviceFeatures"/> offer. Null if DRIVER_OK did not come in time or the wait was cancelled.
    /// </summary>
    /// <remarks>
    /// <paramref name="configChanged"/> becomes the context's configuration-change signal (null: the device cannot
    /// signal one), <paramref name="configUpdated"/> its silent refresh of the table's config bytes.
    /// </remarks>
    public VirtioDeviceContext? WaitForDriver(ulong deviceFeatures, NotificationLoop loop, TimeSpan waitForDriver, CancellationToken cancellation = default,
        Func<bool>? configChanged = null, Action? configUpdated = null)
    {
        long deadline = Environment.TickCount64 + (long)waitForDriver.TotalMilliseconds;
        var spin = new SpinWait();
        while ((_vdev.Status & VirtioStatus.DriverOk) == 0)
        {
            if (Environment.TickCount64 > deadline || cancellation.IsCancellationRequested) return null;
            if (spin.Count < 100) spin.SpinOnce(sleep1Threshold: -1);
            else Thread.Sleep(1); // polling a status byte the host writes; there is no notification for it
        }
        // The host may only accept what was offered; whatever else it wrote is not in force.
        ulong features = _vdev.DriverFeatures & _vdev.DeviceFeatures & deviceFeatures;
        return new VirtioDeviceContext(_vdev, features, Queues, _memory, loop, [_doorbell], configChanged, configUpdated);
    }
}

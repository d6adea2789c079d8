using AmpCan.Vring;

namespace AmpCan.Remoteproc.Lifecycle;

/// <summary>
/// A vdev whose status says DEVICE_NEEDS_RESET (the device gave up: a remote serving it crashed or hit an error it
/// cannot leave) or FAILED (the driver gave up: the remote's driver, or ours faulting on what the remote wrote). Either
/// way the device is dead until the remote is reset, which is what recovery does.
/// </summary>
public sealed class VdevStatusCheck(ResourceTable table) : ICoreHealthCheck
{
    /// <inheritdoc/>
    public string? Check(TimeSpan sinceLast)
    {
        foreach (VdevResource vdev in table.Vdevs)
        {
            VirtioStatus s = vdev.Status;
            if ((s & (VirtioStatus.DeviceNeedsReset | VirtioStatus.Failed)) != 0)
                return $"vdev {vdev.Index} (virtio id {vdev.DeviceId}) status 0x{(byte)s:x2}: {((s & VirtioStatus.DeviceNeedsReset) != 0 ? "DEVICE_NEEDS_RESET" : "FAILED")}";
        }
        return null;
    }
}

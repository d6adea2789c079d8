namespace AmpCan.Vring;

/// <summary>
/// A transport that serves one <see cref="IVirtioDevice"/> to the driver on its other side (a resource-table vdev to the
/// host's driver, a vhost-user socket to a guest's): it activates the device when that driver is ready and resets it when
/// the driver goes, as often as that happens, on a thread of its own. The host composes which device on which transport.
/// </summary>
public interface IVirtioDeviceTransport : IDisposable
{
    /// <summary>The device served.</summary>
    IVirtioDevice Device { get; }

    /// <summary>Starts serving; returns at once (the device is activated when the driver is ready).</summary>
    void Start();
}

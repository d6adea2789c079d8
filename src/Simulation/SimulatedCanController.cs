using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Boards;
using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;

namespace AmpCan.Simulation;

/// <summary>
/// One of the simulated remote's CAN controllers (one virtio-can vdev of its table), as its firmware runs it: one
/// AmpCan owns is driven by the firmware's <see cref="Driver"/>, whose <see cref="Node"/> keeps it started; one the
/// remote owns is served by the firmware's <see cref="Device"/> on a <see cref="Bus"/> of its own standing for the
/// wire that controller is on, where the <see cref="Node"/> plays an ECU.
/// </summary>
/// <param name="Index">The controller's place among the table's virtio-can vdevs.</param>
/// <param name="Owner">Who owns it, as the board says.</param>
/// <param name="Node">The firmware's CAN task on AmpCan's controller, or the ECU on the remote's own bus.</param>
public sealed record SimulatedCanController(int Index, CanControllerOwner Owner, SimulatedCanNode Node)
{
    /// <summary>The firmware's driver of AmpCan's device (host-owned), or null.</summary>
    public VirtioCanDriver? Driver { get; init; }

    /// <summary>The firmware's device AmpCan's driver uses (remote-owned), or null.</summary>
    public VirtioCanDevice? Device { get; init; }

    /// <summary>The remote's own bus the device and the ECU are on (remote-owned), or null.</summary>
    public VirtualCanBus? Bus { get; init; }

    /// <summary>The device's side of the vdev, activated once AmpCan's driver sets DRIVER_OK (remote-owned), or null.</summary>
    public VdevDeviceTransport? Transport { get; init; }
}

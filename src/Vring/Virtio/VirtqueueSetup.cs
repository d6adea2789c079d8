namespace AmpCan.Vring;

/// <summary>
/// One queue as a transport hands it to a device or driver: where its ring is, how to notify the other side, and,
/// for the device role, where a resumed queue stands (a vhost-user <c>SET_VRING_BASE</c>).
/// </summary>
/// <param name="Index">Queue index within the device.</param>
/// <param name="Ring">The ring's three areas, in memory the transport mapped.</param>
/// <param name="Notifier">Notifies the other side: a driver's kick, a device's used-buffer interrupt.</param>
/// <param name="DeviceState">Where the device side resumes; null: where the used ring says.</param>
public sealed record VirtqueueSetup(int Index, SplitRing Ring, VirtqueueNotifier Notifier, DeviceQueueState? DeviceState = null);

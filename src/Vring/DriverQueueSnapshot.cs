namespace AmpCan.Vring;

/// <summary>
/// Where a driver left a queue it stopped serving without resetting the device (a detach): the available index it had
/// published, the used index it had collected up to, and the heads of the chains the device still owed it.
/// </summary>
/// <param name="AvailIndex">The available index the driver published last.</param>
/// <param name="LastUsed">The used index the driver had collected up to; entries from here were not delivered.</param>
/// <param name="OutstandingHeads">Heads of the chains made available and not collected (each a single descriptor).</param>
public sealed record DriverQueueSnapshot(ushort AvailIndex, ushort LastUsed, IReadOnlyList<ushort> OutstandingHeads);

/// <summary>
/// Recognises one of the driver's own buffers in a descriptor left in shared memory: the token the buffer goes by
/// (0 to the queue size − 1), or −1 when the descriptor is not one the driver would have written.
/// </summary>
public delegate int DescriptorOwner(ushort index, in Wire.VirtqDescriptor descriptor);

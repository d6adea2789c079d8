using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;

namespace AmpCan.Vring;

/// <summary>
/// What a transport gives an activated <see cref="IVirtioDevice"/>: the negotiated features, its queues, the memory
/// the driver's buffers live in, and the loop that watches the driver's kicks.
/// </summary>
/// <remarks><paramref name="configChanged"/> is how the transport tells the driver the config space changed (vhost-user's
/// back-end request channel, a vdev's notify id); null where the transport has no way. <paramref name="configUpdated"/>
/// refreshes a copy of the config space the driver reads without the device (a resource-table vdev's bytes); null
/// where the driver always asks the device (vhost-user's GET_CONFIG).</remarks>
public sealed class VirtioDeviceContext(IVirtioConfig registers, ulong features, IReadOnlyList<VirtqueueSetup> queues, MemoryMap memory,
    NotificationLoop loop, IReadOnlyList<Doorbell> incoming, Func<bool>? configChanged = null, Action? configUpdated = null)
{
    private readonly SplitVirtqueueDevice?[] _created = new SplitVirtqueueDevice?[queues.Count];

    /// <summary>Features both sides agreed on.</summary>
    public ulong Features { get; } = features;

    /// <summary>The device's queues, by index.</summary>
    public IReadOnlyList<VirtqueueSetup> Queues { get; } = queues;

    /// <summary>Where the driver's buffer addresses resolve (bounds-checked; nothing outside it is reachable).</summary>
    public MemoryMap Memory { get; } = memory;

    /// <summary>The loop that owns the queues once the device hands them over.</summary>
    public NotificationLoop Loop { get; } = loop;

    /// <summary>The doorbells that carry the driver's kicks, for the loop to watch.</summary>
    public IReadOnlyList<Doorbell> Incoming { get; } = incoming;

    /// <summary>True when <paramref name="feature"/> was negotiated.</summary>
    public bool Has(int feature) => VirtioRingFeatures.Has(Features, feature);

    /// <summary>The device side of queue <paramref name="index"/>, with the negotiated ring features, resuming where the transport says.</summary>
    public SplitVirtqueueDevice CreateQueue(int index)
    {
        VirtqueueSetup q = Queues[index];
        var queue = new SplitVirtqueueDevice(q.Ring, Memory, Has(VirtioRingFeatures.EventIndex), Has(VirtioRingFeatures.IndirectDescriptors), q.DeviceState);
        Volatile.Write(ref _created[index], queue);
        return queue;
    }

    /// <summary>
    /// Where the device side of queue <paramref name="index"/> stands (what it pops next, what it fills next), for the
    /// transport to report or resume from once the device is reset; null if the device never made that queue.
    /// </summary>
    public DeviceQueueState? QueueState(int index) => Volatile.Read(ref _created[index])?.State;

    /// <summary>
    /// The device changed its config space without a notification (virtio allows that when the driver caused the
    /// change, as virtio-can's START clearing BUSOFF): a copy the driver reads is refreshed before the driver can look.
    /// </summary>
    public void ConfigUpdated() => configUpdated?.Invoke();

    /// <summary>The device changed its config space: the transport tells the driver (a configuration change notification, virtio 1.x §2.5.1). False when it cannot.</summary>
    public bool SignalConfigChanged() => configChanged?.Invoke() ?? false;

    /// <summary>The device hit an error it cannot recover from without a reset (DEVICE_NEEDS_RESET, virtio 1.x §2.1.2).</summary>
    public void SignalNeedsReset() => registers.Status |= VirtioStatus.DeviceNeedsReset;
}

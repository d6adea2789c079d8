using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;

namespace AmpCan.Vring;

/// <summary>
/// What a transport gives a probed <see cref="IVirtioDriver"/>: the negotiated features, the device's queues, memory
/// the device can address for the driver's buffers, and the loop that watches the device's interrupts.
/// </summary>
public sealed class VirtioDriverContext(IVirtioConfig registers, ulong features, IReadOnlyList<VirtqueueSetup> queues, IoRegion? bufferMemory,
    NotificationLoop loop, IReadOnlyList<Doorbell> incoming)
{
    /// <summary>Features both sides agreed on.</summary>
    public ulong Features { get; } = features;

    /// <summary>The device's queues, by index.</summary>
    public IReadOnlyList<VirtqueueSetup> Queues { get; } = queues;

    /// <summary>Memory the device can address, for the driver's buffers (Linux's DMA memory of the device); null where the transport has none.</summary>
    public IoRegion? BufferMemory { get; } = bufferMemory;

    /// <summary>The loop that owns the queues once the driver hands them over.</summary>
    public NotificationLoop Loop { get; } = loop;

    /// <summary>The doorbells that carry the device's interrupts, for the loop to watch.</summary>
    public IReadOnlyList<Doorbell> Incoming { get; } = incoming;

    /// <summary>True when <paramref name="feature"/> was negotiated.</summary>
    public bool Has(int feature) => VirtioRingFeatures.Has(Features, feature);

    /// <summary>The driver side of queue <paramref name="index"/>, with the negotiated ring features, its ring cleared.</summary>
    public SplitVirtqueueDriver CreateQueue(int index) => new(Queues[index].Ring, Has(VirtioRingFeatures.EventIndex), clearRing: true);

    /// <summary>
    /// The driver side of queue <paramref name="index"/> taken over as the driver before left it (attach): never cleared;
    /// see <see cref="SplitVirtqueueDriver.Adopt"/>.
    /// </summary>
    public SplitVirtqueueDriver AdoptQueue(int index, DriverQueueSnapshot? saved, DescriptorOwner owner, int tokens) =>
        SplitVirtqueueDriver.Adopt(Queues[index].Ring, Has(VirtioRingFeatures.EventIndex), saved, owner, tokens);

    /// <summary>The driver is ready: sets DRIVER_OK (before the first kick, as Linux's <c>virtio_device_ready</c>).</summary>
    public void SetDriverOk() => registers.Status |= VirtioStatus.DriverOk;

    /// <summary>The driver gave up on the device (FAILED).</summary>
    public void SetFailed() => registers.Status |= VirtioStatus.Failed;

    /// <summary>Resets the device (status 0), as Linux does when the driver is removed.</summary>
    public void Reset() => registers.Status = VirtioStatus.Reset;

    /// <summary>Reads the device's config space.</summary>
    public void ReadConfig(int offset, Span<byte> destination) => registers.ReadConfig(offset, destination);
}

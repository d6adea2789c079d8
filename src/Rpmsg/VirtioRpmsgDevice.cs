using AmpCan.Vring;
using Microsoft.Extensions.Logging;

namespace AmpCan.Rpmsg;

/// <summary>
/// The rpmsg device (the remote role, as OpenAMP's remote or a firmware's rpmsg stack) for any transport: each
/// activation brings up a <see cref="VirtioRpmsgRemote"/> over the driver's two queues; a reset tears it down, and
/// whoever offers services puts them on the next one (<see cref="Activated"/>).
/// </summary>
public sealed class VirtioRpmsgDevice(string name, RpmsgRemoteOptions? options = null, ILogger? logger = null) : IVirtioDevice
{
    /// <summary>What the device implements by default: the name service, EVENT_IDX and indirect descriptors.</summary>
    public const ulong DefaultFeatures = (1UL << VirtioRpmsg.FeatureNameService)
        | (1UL << VirtioRingFeatures.EventIndex) | (1UL << VirtioRingFeatures.IndirectDescriptors);

    private VirtioRpmsgRemote? _bus;

    /// <summary>Raised on the transport's thread once a new bus is ready (announce services on it here).</summary>
    public event Action<VirtioRpmsgRemote>? Activated;

    /// <summary>The bus of the current activation, or null while the device is reset.</summary>
    public VirtioRpmsgRemote? Bus => Volatile.Read(ref _bus);

    /// <inheritdoc/>
    public uint DeviceId => VirtioRpmsg.DeviceId;

    /// <inheritdoc/>
    public ulong DeviceFeatures { get; init; } = DefaultFeatures;

    /// <inheritdoc/>
    public int QueueCount => 2;

    /// <inheritdoc/>
    public int MaxQueueSize => VringLayout.MaxQueueSize;

    /// <inheritdoc/>
    /// <remarks>virtio-rpmsg has no config space.</remarks>
    public int ConfigLength => 0;

    /// <inheritdoc/>
    public void ReadConfig(int offset, Span<byte> destination) { }

    /// <inheritdoc/>
    public void WriteConfig(int offset, ReadOnlySpan<byte> source) { }

    /// <inheritdoc/>
    public void Activate(VirtioDeviceContext context)
    {
        var bus = new VirtioRpmsgRemote(name, context, options, logger);
        if (Interlocked.CompareExchange(ref _bus, bus, null) is not null)
        {
            bus.Dispose();
            throw new InvalidOperationException($"{name} is already active; reset it first");
        }
        try
        {
            bus.Start();
        }
        catch
        {
            Reset();
            throw;
        }
        Activated?.Invoke(bus);
    }

    /// <inheritdoc/>
    public void Reset() => Interlocked.Exchange(ref _bus, null)?.Dispose();
}

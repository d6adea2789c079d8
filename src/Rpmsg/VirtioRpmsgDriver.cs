using AmpCan.Vring;
using Microsoft.Extensions.Logging;

namespace AmpCan.Rpmsg;

/// <summary>
/// The rpmsg driver (the host role, as Linux's <c>virtio_rpmsg_bus</c>) for any transport: each probe brings up a
/// <see cref="VirtioRpmsgHost"/> over the device's two queues and the buffer memory the transport gives.
/// </summary>
public sealed class VirtioRpmsgDriver(string name, RpmsgHostOptions? options = null, ILogger? logger = null) : IVirtioDriver
{
    /// <inheritdoc/>
    public uint DeviceId => VirtioRpmsg.DeviceId;

    /// <inheritdoc/>
    public ulong SupportedFeatures => (options ?? new RpmsgHostOptions()).SupportedFeatures;

    /// <summary>What the host before left when it detached, for <see cref="Adopt"/>; null: it left no record (or there was none).</summary>
    public RpmsgHostResume? Resume { get; set; }

    /// <summary>
    /// Runs on each new bus before it starts or takes over (drivers registered here are bound before the first message
    /// is received: on a take-over, messages the remote sent meanwhile reach them).
    /// </summary>
    public Action<VirtioRpmsgHost>? BeforeStart { get; set; }

    /// <summary>The bus of the last successful probe, or null.</summary>
    public VirtioRpmsgHost? Bus { get; private set; }

    /// <inheritdoc/>
    public void Probe(VirtioDriverContext context)
    {
        var bus = new VirtioRpmsgHost(name, context, options, logger);
        try
        {
            BeforeStart?.Invoke(bus);
            bus.Start();
        }
        catch
        {
            bus.Dispose();
            throw;
        }
        Bus = bus;
    }

    /// <inheritdoc/>
    /// <remarks>Brings up a <see cref="VirtioRpmsgHost"/> that takes the running device over (<see cref="VirtioRpmsgHost.Adopt"/>) with <see cref="Resume"/>.</remarks>
    public void Adopt(VirtioDriverContext context)
    {
        var bus = new VirtioRpmsgHost(name, context, options, logger);
        try
        {
            BeforeStart?.Invoke(bus);
            bus.Adopt(Resume);
        }
        catch
        {
            bus.Dispose();
            throw;
        }
        Bus = bus;
    }
}

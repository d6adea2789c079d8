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

    /// <summary>The bus of the last successful probe, or null.</summary>
    public VirtioRpmsgHost? Bus { get; private set; }

    /// <inheritdoc/>
    public void Probe(VirtioDriverContext context)
    {
        var bus = new VirtioRpmsgHost(name, context, options, logger);
        try
        {
            bus.Start();
        }
        catch
        {
            bus.Dispose();
            throw;
        }
        Bus = bus;
    }
}

using AmpCan.Rpmsg;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Vring;
using Microsoft.Extensions.Logging;

namespace AmpCan.Remoteproc;

/// <summary>
/// Binds an rpmsg vdev entry of a resource table to either rpmsg role: vring 0 carries remote→host messages
/// (the host's receive queue), vring 1 host→remote (its transmit queue), as in remoteproc and OpenAMP.
/// </summary>
public static class RpmsgVdev
{
    /// <summary>The host side over <paramref name="vdev"/>; the buffer pool is host memory the remote can address.</summary>
    public static VirtioRpmsgHost CreateHost(string name, VdevResource vdev, MemoryMap memory, IoRegion bufferPool, Doorbell doorbell,
        RpmsgHostOptions? options = null, ILogger? logger = null)
    {
        var (rx, tx, rxNotify, txNotify) = Rings(vdev, memory);
        return new VirtioRpmsgHost(name, vdev, rx, tx, bufferPool, doorbell, rxNotify, txNotify, options, logger);
    }

    /// <summary>The remote side over <paramref name="vdev"/>.</summary>
    public static VirtioRpmsgRemote CreateRemote(string name, VdevResource vdev, MemoryMap memory, Doorbell doorbell,
        RpmsgRemoteOptions? options = null, ILogger? logger = null)
    {
        var (rx, tx, rxNotify, txNotify) = Rings(vdev, memory);
        return new VirtioRpmsgRemote(name, vdev, rx, tx, memory, doorbell, rxNotify, txNotify, options, logger);
    }

    private static (SplitRing Rx, SplitRing Tx, uint RxNotify, uint TxNotify) Rings(VdevResource vdev, MemoryMap memory)
    {
        if (vdev.DeviceId != VirtioRpmsg.DeviceId)
            throw new ResourceTableException($"vdev {vdev.Index} has device id {vdev.DeviceId}, not rpmsg ({VirtioRpmsg.DeviceId})");
        if (vdev.QueueCount < 2)
            throw new ResourceTableException($"rpmsg vdev {vdev.Index} has {vdev.QueueCount} vrings; it needs 2");
        VringResource r0 = vdev.Vring(0), r1 = vdev.Vring(1);
        return (Ring(vdev, memory, r0), Ring(vdev, memory, r1), r0.NotifyId, r1.NotifyId);
    }

    private static SplitRing Ring(VdevResource vdev, MemoryMap memory, VringResource r)
    {
        if (r.DeviceAddress == Wire.ResourceTableLayout.AddressAny)
            throw new ResourceTableException($"vdev {vdev.Index} vring {r.Index} has no address yet (FW_RSC_ADDR_ANY); allocate it first");
        try
        {
            return SplitRing.Legacy(memory, r.DeviceAddress, (int)r.QueueSize, r.Align);
        }
        catch (ArgumentException e)
        {
            throw new ResourceTableException($"vdev {vdev.Index} vring {r.Index}: {e.Message}");
        }
    }
}

using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Vring;
using AmpCan.Vring.Wire;
using Microsoft.Extensions.Logging;

namespace AmpCan.VhostUser;

/// <summary>
/// The device's run over a front end's rings: started once every ring is (the session checks), stopped when any stops,
/// the front end resets it or leaves. Stopping resets the device, stops watching the kick eventfds before anyone closes
/// them, and keeps where each queue stood for GET_VRING_BASE and the next start.
/// </summary>
internal sealed class VhostUserDeviceActivation(IVirtioDevice device, NotificationLoop loop, VhostUserRegisters registers, ILogger logger, string name)
{
    private SplitRing[]? _running;
    private VirtioDeviceContext? _context; // what the device was activated with, while it runs
    private volatile bool _active;

    /// <summary>True while the device runs over the rings.</summary>
    public bool IsActive => _active;

    /// <summary>Activates the device over <paramref name="rings"/>, every one of them started, in <paramref name="memory"/>.</summary>
    /// <exception cref="VhostUserProtocolException">The device did not start (it is reset again).</exception>
    public void Start(VringSetup[] rings, GuestMemoryTable memory, ulong features, Func<bool> configChanged)
    {
        var mapped = new SplitRing[rings.Length];
        var queues = new VirtqueueSetup[rings.Length];
        var kicks = new Doorbell[rings.Length];
        for (int i = 0; i < rings.Length; i++)
        {
            VringSetup r = rings[i];
            mapped[i] = r.Map(r.Address!.Value, memory); // the table may have changed since SET_VRING_ADDR
            ushort used = mapped[i].Used.ReadU16Acquire(SplitRingOffsets.Index);
            queues[i] = new VirtqueueSetup(i, mapped[i], new VirtqueueNotifier(r.Call, (uint)i), new DeviceQueueState(r.Base, used));
            kicks[i] = r.Kick!;
        }
        var context = new VirtioDeviceContext(registers, features, queues, memory.GuestPhysical, loop, kicks, configChanged);
        registers.Status = VirtioStatus.Acknowledge | VirtioStatus.Driver | VirtioStatus.FeaturesOk | VirtioStatus.DriverOk;
        _running = mapped;
        _context = context;
        _active = true;
        try
        {
            device.Activate(context);
        }
        catch (Exception e)
        {
            Stop(rings, "its activation failed");
            throw new VhostUserProtocolException($"the device did not start: {e.Message}");
        }
        logger.LogInformation("vhost-user {Name}: device {DeviceId} started ({Queues} queues, features 0x{Features:x})",
            name, device.DeviceId, rings.Length, context.Features);
    }

    /// <summary>Resets the device if it runs; once this returns nothing of it touches the rings or the memory.</summary>
    public void Stop(VringSetup[] rings, string why)
    {
        if (!_active) return;
        _active = false;
        try
        {
            device.Reset();
        }
        catch (Exception e)
        {
            logger.LogError(e, "vhost-user {Name}: device reset failed", name);
        }
        foreach (VringSetup r in rings)
        {
            if (r.Kick is not null) loop.Unwatch(r.Kick); // before anyone closes it
        }
        SplitRing[] mapped = _running!;
        VirtioDeviceContext context = _context!;
        _running = null;
        _context = null;
        for (int i = 0; i < mapped.Length; i++)
        {
            // Where a restart resumes and what GET_VRING_BASE reports (vhost-user.rst: the next available index the
            // back end would process): the device's own, now that it is reset; the used index for a queue it never made.
            try { rings[i].Base = context.QueueState(i)?.NextAvail ?? mapped[i].Used.ReadU16Acquire(SplitRingOffsets.Index); }
            catch (SharedMemoryBoundsException) { } // cannot happen: the ring lies inside the table, which is still mapped
        }
        registers.Status = VirtioStatus.Reset;
        logger.LogInformation("vhost-user {Name}: device {DeviceId} stopped ({Why})", name, device.DeviceId, why);
    }
}

using AmpCan.SharedMem.Doorbells;

namespace AmpCan.Host.Boards;

/// <summary>
/// The doorbell a core's transports kick through when its board has several mailbox channels: each
/// <see cref="Ring"/> goes to the channel that carries that notify id towards the remote (STM32's IPCC channel 0 for
/// vring 0, channel 1 for vring 1). It is never waited on: the channels that carry kicks from the remote are watched
/// by the loop themselves (<see cref="CoreMailboxes.Watch"/>).
/// </summary>
/// <remarks>A notify id no channel carries is dropped: the host checks every id of the table before serving it
/// (<see cref="CoreMailboxes.CheckRoutes"/>), so only a remote's own vdev-wide id can reach here unrouted.</remarks>
public sealed class MailboxRouter : Doorbell
{
    private readonly Doorbell?[] _byId;
    private readonly Doorbell? _rest;

    /// <summary>Routes the notify ids listed in <paramref name="byId"/> (index = notify id) and every other to <paramref name="rest"/> (null: dropped).</summary>
    public MailboxRouter(Doorbell?[] byId, Doorbell? rest, string description)
    {
        ArgumentNullException.ThrowIfNull(byId);
        _byId = byId;
        _rest = rest;
        Description = description;
    }

    /// <inheritdoc/>
    public override string Description { get; }

    /// <summary>The channel <paramref name="notifyId"/> is kicked through, or null when none carries it.</summary>
    public Doorbell? Route(uint notifyId) => notifyId < (uint)_byId.Length && _byId[notifyId] is Doorbell d ? d : _rest;

    /// <inheritdoc/>
    public override void Ring(uint notifyId = 0) => Route(notifyId)?.Ring(notifyId);
}

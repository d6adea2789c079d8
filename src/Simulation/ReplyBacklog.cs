using AmpCan.Rpmsg;
using AmpCan.SharedMem.Doorbells;

namespace AmpCan.Simulation;

/// <summary>
/// Replies the simulated remote could not post yet (the device's send queue was full): each keeps its request's buffer
/// held, which is the host's transmit buffer, so a host that sends faster than it takes replies is slowed down by its
/// own ring instead of losing replies. Drained in order from the remote's loop as room comes; loop thread only.
/// </summary>
internal sealed class ReplyBacklog(NotificationLoop loop) : INotificationHandler
{
    private readonly Queue<(RpmsgEndpoint Endpoint, uint To, RpmsgHeldBuffer Request)> _waiting = new();
    private bool _added;

    /// <summary>True while replies wait: a new one must queue behind them to keep the order.</summary>
    public bool IsEmpty => _waiting.Count == 0;

    /// <summary>Keeps the request of a reply that could not be posted (called from its receive callback).</summary>
    public void Add(in RpmsgReceivedMessage request)
    {
        _waiting.Enqueue((request.Endpoint, request.Source, request.Hold()));
        if (!_added)
        {
            loop.Add(this);
            _added = true;
        }
    }

    public bool Process()
    {
        bool did = false;
        while (_waiting.TryPeek(out var r))
        {
            if (!r.Endpoint.IsDestroyed && !r.Endpoint.PostTo(r.To, r.Request.Payload)) break;
            _waiting.Dequeue();
            r.Request.Release();
            did = true;
        }
        return did;
    }

    // While replies wait the device's send queue is full, so it already asks for the buffers that will wake this loop.
    public bool ArmNotifications() => false;

    public void DisarmNotifications() { }
}

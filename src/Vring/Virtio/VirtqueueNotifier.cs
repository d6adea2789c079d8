using AmpCan.SharedMem.Doorbells;

namespace AmpCan.Vring;

/// <summary>
/// How one queue tells the other side there is work: a doorbell and the value that names the queue on it (a
/// remoteproc notify id, a mailbox value; ignored where every queue has a doorbell of its own, as a vhost-user call fd).
/// </summary>
public readonly record struct VirtqueueNotifier(Doorbell Doorbell, uint NotifyId)
{
    /// <summary>Notifies the other side for this queue.</summary>
    public void Notify() => Doorbell.Ring(NotifyId);
}

using AmpCan.SharedMem.Doorbells;
using Microsoft.Win32.SafeHandles;

namespace AmpCan.VhostUser;

/// <summary>
/// A vhost-user kick eventfd: the front end writes it when it made buffers available, the device's loop waits on it.
/// Owned here; the session stops the loop watching it (<see cref="NotificationLoop.Unwatch"/>) before disposing it.
/// </summary>
internal sealed class KickEventFd(SafeFileHandle eventFd, string description) : Doorbell
{
    /// <inheritdoc/>
    public override int WaitFd => eventFd.IsClosed ? -1 : (int)eventFd.DangerousGetHandle();

    /// <summary>Every write to an eventfd wakes its epoll watchers, so the loop need not read it back.</summary>
    public override bool EdgeTriggered => true;

    /// <summary>Does nothing: the back end never kicks its own queue.</summary>
    public override void Ring(uint notifyId = 0) { }

    /// <inheritdoc/>
    public override string Description => description;

    /// <inheritdoc/>
    protected override void Dispose(bool disposing) => eventFd.Dispose();
}

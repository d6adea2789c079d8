using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace AmpCan.SharedMem.Doorbells;

/// <summary>
/// "Notify the other side" and "learn that the other side notified us": the one abstraction behind eventfd kicks,
/// UIO interrupts with mailbox registers, UNIX-socket kicks and busy polling.
/// </summary>
/// <remarks>
/// A doorbell is waited on by a <see cref="NotificationLoop"/> through <see cref="WaitFd"/>, never by a thread of its own.
/// </remarks>
public abstract class Doorbell : IDisposable
{
    /// <summary>Notifies the peer. <paramref name="notifyId"/> names the queue where the transport carries it (a mailbox value); others ignore it.</summary>
    public abstract void Ring(uint notifyId = 0);

    /// <summary>A descriptor that becomes readable when the peer rang, or -1 when this doorbell cannot be waited on (or is disposed).</summary>
    /// <remarks>A snapshot of the number: whoever registers it somewhere must not let the doorbell be disposed meanwhile.</remarks>
    public virtual int WaitFd => -1;

    /// <summary>
    /// The handle behind <see cref="WaitFd"/>, for whoever uses the descriptor itself (<see cref="Wait"/>, a loop's
    /// epoll_ctl): taking a reference keeps the number from being reused while it is in use.
    /// </summary>
    internal virtual FileDescriptorHandle? WaitDescriptor => null;

    /// <summary>Consumes pending notifications without blocking and re-arms the source; true if any was pending.</summary>
    public virtual bool Acknowledge() => false;

    /// <summary>
    /// True when a <see cref="NotificationLoop"/> may watch <see cref="WaitFd"/> edge-triggered and never call
    /// <see cref="Acknowledge"/>: every ring raises a fresh event and unconsumed notifications cost nothing.
    /// </summary>
    /// <remarks>Saves a system call per wake-up on each side; the loop never relies on the level because it re-checks
    /// the rings after arming notifications, so a notification that already woke it need not be reported again.</remarks>
    public virtual bool EdgeTriggered => false;

    /// <summary>What this doorbell is, for logs.</summary>
    public abstract string Description { get; }

    /// <summary>Blocks until the peer rings or <paramref name="timeout"/> passes; consumes the notification.</summary>
    /// <remarks>Throws <see cref="ObjectDisposedException"/> once the doorbell is disposed.</remarks>
    public unsafe bool Wait(TimeSpan timeout)
    {
        FileDescriptorHandle? handle = WaitDescriptor;
        if (handle is null && WaitFd < 0) throw new NotSupportedException($"doorbell {Description} cannot be waited on; poll the ring instead");
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (true)
        {
            if (Acknowledge()) return true;
            long left = deadline - Environment.TickCount64;
            if (left <= 0) return false;
            pollfd p = default;
            // A doorbell of another assembly only has the number; ours keep the descriptor open while polling it.
            p.fd = handle?.Enter(Description) ?? WaitFd;
            p.events = POLLIN;
            int rc, e;
            try
            {
                rc = poll(&p, 1, (int)Math.Min(left, int.MaxValue));
                e = errno;
            }
            finally
            {
                handle?.Exit();
            }
            if (rc < 0 && e != EINTR) throw SharedMemoryException.FromErrno($"poll on {Description}", e);
        }
    }

    /// <summary>Releases the descriptors this doorbell owns.</summary>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the descriptors this doorbell owns.</summary>
    protected virtual void Dispose(bool disposing) { }

    /// <inheritdoc/>
    public override string ToString() => Description;
}

/// <summary>No notifications at all: both sides busy-poll the rings (lowest latency, one core per side).</summary>
public sealed class PollingDoorbell : Doorbell
{
    /// <inheritdoc/>
    public override void Ring(uint notifyId = 0) { }

    /// <inheritdoc/>
    public override string Description => "polling";
}

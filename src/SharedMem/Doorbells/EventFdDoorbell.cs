using System.Runtime.InteropServices;
using static Tmds.Linux.LibC;

namespace AmpCan.SharedMem.Doorbells;

/// <summary>
/// Kicks over a pair of eventfds: one the peer waits on (we write it) and one we wait on (the peer writes it).
/// The descriptors can be passed to another process (see <see cref="UnixFdChannel"/>), as vhost-user does.
/// </summary>
/// <remarks>
/// Every use of a descriptor holds a reference on it, so a ring racing with <see cref="Doorbell.Dispose()"/> either
/// completes on the real eventfd or throws <see cref="ObjectDisposedException"/>; it never writes a reused number.
/// </remarks>
public sealed unsafe class EventFdDoorbell : Doorbell
{
    private readonly FileDescriptorHandle _ring;
    private readonly FileDescriptorHandle _wait;
    private readonly string _description;

    /// <summary>Wraps existing eventfds; with <paramref name="ownsDescriptors"/> they are closed on dispose.</summary>
    public EventFdDoorbell(int ringFd, int waitFd, bool ownsDescriptors = true)
    {
        if (ringFd < 0 || waitFd < 0) throw new ArgumentOutOfRangeException(nameof(ringFd), "eventfd descriptors must be valid");
        _ring = new FileDescriptorHandle(ringFd, ownsDescriptors);
        _wait = new FileDescriptorHandle(waitFd, ownsDescriptors);
        _description = $"eventfd(ring {ringFd}, wait {waitFd})";
    }

    /// <summary>Creates a non-blocking, close-on-exec eventfd.</summary>
    public static int CreateEventFd() => Posix.Check(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), "eventfd");

    /// <summary>Creates two connected doorbells: what one rings, the other sees.</summary>
    public static (EventFdDoorbell First, EventFdDoorbell Second) CreatePair()
    {
        int toSecond = CreateEventFd();
        int toFirst = CreateEventFd();
        int toSecondDup = Posix.Check(fcntl(toSecond, F_DUPFD_CLOEXEC, 0), "dup eventfd");
        int toFirstDup = Posix.Check(fcntl(toFirst, F_DUPFD_CLOEXEC, 0), "dup eventfd");
        return (new EventFdDoorbell(toSecond, toFirst), new EventFdDoorbell(toFirstDup, toSecondDup));
    }

    /// <summary>The eventfd the peer waits on, or -1 once disposed (a snapshot; <see cref="RingFdHandle"/> keeps it open while used).</summary>
    public int RingFd => _ring.NumberOrInvalid;

    /// <summary>The eventfd the peer waits on, as a handle that stays open while in use (to pass it with <see cref="UnixFdChannel"/>).</summary>
    public SafeHandle RingFdHandle => _ring;

    /// <summary>The eventfd we wait on, as a handle that stays open while in use (to pass it with <see cref="UnixFdChannel"/>).</summary>
    public SafeHandle WaitFdHandle => _wait;

    /// <inheritdoc/>
    public override int WaitFd => _wait.NumberOrInvalid;

    internal override FileDescriptorHandle WaitDescriptor => _wait;

    /// <inheritdoc/>
    public override string Description => _description;

    /// <inheritdoc/>
    public override void Ring(uint notifyId = 0)
    {
        ulong one = 1;
        int fd = _ring.Enter(_description);
        long n;
        try
        {
            n = Posix.Write(fd, &one, 8);
        }
        finally
        {
            _ring.Exit();
        }
        // EAGAIN means the counter is saturated, so the peer is certain to wake anyway.
        if (n < 0 && n != -EAGAIN) throw SharedMemoryException.FromErrno($"write to {Description}", (int)-n);
    }

    /// <inheritdoc/>
    public override bool Acknowledge()
    {
        ulong count;
        int fd = _wait.Enter(_description);
        long n;
        try
        {
            n = Posix.Read(fd, &count, 8);
        }
        finally
        {
            _wait.Exit();
        }
        if (n == 8) return true;
        if (n == -EAGAIN) return false;
        throw SharedMemoryException.FromErrno($"read from {Description}", (int)-n);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Every write to an eventfd wakes its epoll watchers, so a loop need not read the counter back. The counter then
    /// only grows: it saturates (and a write could be lost) after 2^64 - 2 kicks, about 58 000 years at 10 million a second.
    /// </remarks>
    public override bool EdgeTriggered => true;

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        // Without ownership the descriptors stay open, but this doorbell stops using them all the same.
        _ring.Dispose();
        _wait.Dispose();
    }
}

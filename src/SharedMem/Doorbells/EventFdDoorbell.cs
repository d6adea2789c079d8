using static Tmds.Linux.LibC;

namespace AmpCan.SharedMem.Doorbells;

/// <summary>
/// Kicks over a pair of eventfds: one the peer waits on (we write it) and one we wait on (the peer writes it).
/// The descriptors can be passed to another process (see <see cref="UnixFdChannel"/>), as vhost-user does.
/// </summary>
public sealed unsafe class EventFdDoorbell : Doorbell
{
    private int _ringFd;
    private int _waitFd;
    private readonly bool _ownsDescriptors;

    /// <summary>Wraps existing eventfds; with <paramref name="ownsDescriptors"/> they are closed on dispose.</summary>
    public EventFdDoorbell(int ringFd, int waitFd, bool ownsDescriptors = true)
    {
        if (ringFd < 0 || waitFd < 0) throw new ArgumentOutOfRangeException(nameof(ringFd), "eventfd descriptors must be valid");
        _ringFd = ringFd;
        _waitFd = waitFd;
        _ownsDescriptors = ownsDescriptors;
    }

    /// <summary>Creates a non-blocking, close-on-exec eventfd.</summary>
    public static int CreateEventFd() => Posix.Check(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), "eventfd");

    /// <summary>Creates two connected doorbells: what one rings, the other sees.</summary>
    public static (EventFdDoorbell First, EventFdDoorbell Second) CreatePair()
    {
        int toSecond = CreateEventFd();
        int toFirst = CreateEventFd();
        int toSecondDup = Posix.Check(dup(toSecond), "dup eventfd");
        int toFirstDup = Posix.Check(dup(toFirst), "dup eventfd");
        Posix.Check(fcntl(toSecondDup, F_SETFD, FD_CLOEXEC), "fcntl");
        Posix.Check(fcntl(toFirstDup, F_SETFD, FD_CLOEXEC), "fcntl");
        return (new EventFdDoorbell(toSecond, toFirst), new EventFdDoorbell(toFirstDup, toSecondDup));
    }

    /// <summary>The eventfd the peer waits on.</summary>
    public int RingFd => _ringFd;

    /// <inheritdoc/>
    public override int WaitFd => _waitFd;

    /// <inheritdoc/>
    public override string Description => $"eventfd(ring {_ringFd}, wait {_waitFd})";

    /// <inheritdoc/>
    public override void Ring(uint notifyId = 0)
    {
        ulong one = 1;
        long n = Posix.Write(_ringFd, &one, 8);
        // EAGAIN means the counter is saturated, so the peer is certain to wake anyway.
        if (n < 0 && n != -EAGAIN) throw SharedMemoryException.FromErrno($"write to {Description}", (int)-n);
    }

    /// <inheritdoc/>
    public override bool Acknowledge()
    {
        ulong count;
        long n = Posix.Read(_waitFd, &count, 8);
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
        if (!_ownsDescriptors) return;
        Posix.Close(Interlocked.Exchange(ref _ringFd, -1));
        Posix.Close(Interlocked.Exchange(ref _waitFd, -1));
    }
}

using static Tmds.Linux.LibC;

namespace AmpCan.SharedMem.Doorbells;

/// <summary>
/// A plain blocking eventfd: a thread sleeps in read(2) until another writes. The floor that doorbell latency is
/// measured against (no epoll, no ring), and a minimal wake-up for tools.
/// </summary>
public sealed unsafe class BlockingEventFd : IDisposable
{
    private int _fd = Posix.Check(eventfd(0, EFD_CLOEXEC), "eventfd");

    /// <summary>Adds one to the counter, waking a reader.</summary>
    public void Signal()
    {
        ulong one = 1;
        if (Posix.Write(_fd, &one, 8) != 8) throw SharedMemoryException.FromErrno("eventfd write", errno);
    }

    /// <summary>Sleeps until the counter is non-zero, then clears it.</summary>
    public void Wait()
    {
        ulong v;
        if (Posix.Read(_fd, &v, 8) != 8) throw SharedMemoryException.FromErrno("eventfd read", errno);
    }

    /// <summary>Closes the descriptor.</summary>
    public void Dispose() => Posix.Close(Interlocked.Exchange(ref _fd, -1));
}

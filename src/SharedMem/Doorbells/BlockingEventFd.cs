using static Tmds.Linux.LibC;

namespace AmpCan.SharedMem.Doorbells;

/// <summary>
/// A plain blocking eventfd: a thread sleeps in read(2) until another writes. The floor that doorbell latency is
/// measured against (no epoll, no ring), and a minimal wake-up for tools.
/// </summary>
/// <remarks>
/// A call after <see cref="Dispose"/> throws <see cref="ObjectDisposedException"/>. A thread asleep in <see cref="Wait"/>
/// keeps the descriptor open: disposing does not wake it (close(2) never did); signal it first.
/// </remarks>
public sealed unsafe class BlockingEventFd : IDisposable
{
    private readonly FileDescriptorHandle _fd = new(Posix.Check(eventfd(0, EFD_CLOEXEC), "eventfd"));

    /// <summary>Adds one to the counter, waking a reader.</summary>
    public void Signal()
    {
        ulong one = 1;
        int fd = _fd.Enter(nameof(BlockingEventFd));
        long n;
        try
        {
            n = Posix.Write(fd, &one, 8);
        }
        finally
        {
            _fd.Exit();
        }
        if (n != 8) throw SharedMemoryException.FromErrno("eventfd write", n < 0 ? (int)-n : EIO);
    }

    /// <summary>Sleeps until the counter is non-zero, then clears it.</summary>
    public void Wait()
    {
        ulong v;
        int fd = _fd.Enter(nameof(BlockingEventFd));
        long n;
        try
        {
            n = Posix.Read(fd, &v, 8);
        }
        finally
        {
            _fd.Exit();
        }
        if (n != 8) throw SharedMemoryException.FromErrno("eventfd read", n < 0 ? (int)-n : EIO);
    }

    /// <summary>Closes the descriptor (once no call is using it).</summary>
    public void Dispose() => _fd.Dispose();
}

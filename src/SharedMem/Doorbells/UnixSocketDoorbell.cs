using System.Text;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace AmpCan.SharedMem.Doorbells;

/// <summary>The peer closed its end of a doorbell; the loop stops watching it.</summary>
public sealed class DoorbellClosedException(string message) : IOException(message);

/// <summary>
/// Kicks as single bytes over a connected UNIX stream socket, as OpenAMP's Linux user-space machine port does
/// (the remote listens on <c>/tmp/openamp.event.0</c>, the host connects). Many kicks may coalesce into one wake-up.
/// </summary>
public sealed unsafe class UnixSocketDoorbell : Doorbell
{
    private int _fd;
    private readonly string _path;

    private UnixSocketDoorbell(int fd, string path)
    {
        _fd = fd;
        _path = path;
    }

    /// <summary>Connects to a listening peer, retrying until it listens or <paramref name="timeout"/> passes.</summary>
    public static UnixSocketDoorbell Connect(string path, TimeSpan timeout)
    {
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (true)
        {
            int fd = Posix.Check(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket");
            sockaddr_un addr = Address(path);
            if (connect(fd, (sockaddr*)&addr, (uint)sizeof(sockaddr_un)) == 0)
            {
                SetNonBlocking(fd);
                return new UnixSocketDoorbell(fd, path);
            }
            int e = errno;
            close(fd);
            if ((e != ENOENT && e != ECONNREFUSED) || Environment.TickCount64 > deadline)
                throw SharedMemoryException.FromErrno($"connect to doorbell socket '{path}'", e);
            Thread.Sleep(10); // the peer has not started listening yet
        }
    }

    /// <summary>Listens on <paramref name="path"/> (replacing a stale socket file) and accepts one peer.</summary>
    public static UnixSocketDoorbell Accept(string path, TimeSpan timeout, CancellationToken cancellation = default)
    {
        int listener = Posix.Check(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket");
        try
        {
            byte[] p = Encoding.UTF8.GetBytes(path + "\0");
            fixed (byte* pp = p) unlink(pp);
            sockaddr_un addr = Address(path);
            Posix.Check(bind(listener, (sockaddr*)&addr, (uint)sizeof(sockaddr_un)), $"bind doorbell socket '{path}'");
            Posix.Check(listen(listener, 1), $"listen on '{path}'");
            long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
            while (true)
            {
                pollfd pf = default;
                pf.fd = listener;
                pf.events = POLLIN;
                int left = (int)Math.Clamp(deadline - Environment.TickCount64, 0, 100);
                if (poll(&pf, 1, left) > 0)
                {
                    int fd = Posix.Check(accept4(listener, null, null, SOCK_CLOEXEC), $"accept on '{path}'");
                    SetNonBlocking(fd);
                    return new UnixSocketDoorbell(fd, path);
                }
                if (cancellation.IsCancellationRequested) throw new OperationCanceledException(cancellation);
                if (Environment.TickCount64 >= deadline) throw new TimeoutException($"nobody connected to doorbell socket '{path}' within {timeout}");
            }
        }
        finally
        {
            close(listener);
        }
    }

    private static sockaddr_un Address(string path)
    {
        byte[] b = Encoding.UTF8.GetBytes(path);
        sockaddr_un a = default;
        if (b.Length >= sockaddr_un.sun_path_length) throw new ArgumentException($"socket path '{path}' is longer than {sockaddr_un.sun_path_length - 1} bytes");
        a.sun_family = AF_UNIX;
        b.CopyTo(new Span<byte>(a.sun_path, sockaddr_un.sun_path_length));
        return a;
    }

    private static void SetNonBlocking(int fd) => Posix.Check(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), "fcntl O_NONBLOCK");

    /// <inheritdoc/>
    public override int WaitFd => _fd;

    /// <inheritdoc/>
    public override string Description => $"unix-socket({_path})";

    /// <summary>Writes one byte (the low byte of <paramref name="notifyId"/>).</summary>
    public override void Ring(uint notifyId = 0)
    {
        byte b = (byte)notifyId;
        long n;
        do n = send(_fd, &b, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        while (n < 0 && errno == EINTR);
        if (n == 1) return;
        int e = errno;
        if (e == EAGAIN) return; // the peer has unread kicks: it will wake anyway
        throw SharedMemoryException.FromErrno($"kick over {Description}", e);
    }

    /// <inheritdoc/>
    public override bool Acknowledge()
    {
        byte* buf = stackalloc byte[64];
        bool any = false;
        while (true)
        {
            long n = recv(_fd, buf, 64, MSG_DONTWAIT);
            if (n > 0)
            {
                any = true;
                continue;
            }
            if (n == 0) throw new DoorbellClosedException($"the peer closed {Description}");
            int e = errno;
            if (e == EINTR) continue;
            if (e == EAGAIN) return any;
            throw SharedMemoryException.FromErrno($"read from {Description}", e);
        }
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing) => Posix.Close(Interlocked.Exchange(ref _fd, -1));
}

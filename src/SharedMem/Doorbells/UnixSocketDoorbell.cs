using System.Text;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace AmpCan.SharedMem.Doorbells;

/// <summary>
/// Kicks as single bytes over a connected UNIX stream socket, as OpenAMP's Linux user-space machine port does
/// (the remote listens on <c>/tmp/openamp.event.0</c>, the host connects). Many kicks may coalesce into one wake-up.
/// </summary>
/// <remarks>
/// A peer that left shows as <see cref="DoorbellClosedException"/> from <see cref="Ring"/> and <see cref="Acknowledge"/>;
/// any other failure is a <see cref="SharedMemoryException"/> naming the operation.
/// </remarks>
public sealed unsafe class UnixSocketDoorbell : Doorbell
{
    private readonly FileDescriptorHandle _socket;
    private readonly string _path;
    private readonly string _description;
    private readonly FileIdentity? _createdSocketFile; // set on the side that bound the path, which removes it

    private UnixSocketDoorbell(int fd, string path, FileIdentity? createdSocketFile)
    {
        _socket = new FileDescriptorHandle(fd);
        _path = path;
        _description = $"unix-socket({path})";
        _createdSocketFile = createdSocketFile;
    }

    /// <summary>Connects to a listening peer, retrying until it listens or <paramref name="timeout"/> passes.</summary>
    public static UnixSocketDoorbell Connect(string path, TimeSpan timeout)
    {
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        sockaddr_un addr = Address(path);
        while (true)
        {
            int fd = Posix.Check(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket");
            if (connect(fd, (sockaddr*)&addr, (uint)sizeof(sockaddr_un)) == 0)
            {
                try
                {
                    SetNonBlocking(fd);
                }
                catch
                {
                    close(fd);
                    throw;
                }
                return new UnixSocketDoorbell(fd, path, null);
            }
            int e = errno;
            close(fd);
            if ((e != ENOENT && e != ECONNREFUSED) || Environment.TickCount64 > deadline)
                throw SharedMemoryException.FromErrno($"connect to doorbell socket '{path}'", e);
            Thread.Sleep(10); // the peer has not started listening yet
        }
    }

    /// <summary>
    /// Listens on <paramref name="path"/> and accepts one peer. A socket file already at the path is taken for one a
    /// previous listener left behind and replaced; anything else there (a regular file, a symbolic link, a directory)
    /// is refused and left alone. The socket file is removed again when accepting fails and when the doorbell is disposed.
    /// </summary>
    /// <remarks>
    /// A socket file cannot tell whether its listener is still alive (probing it would connect to that listener); when a
    /// second listener could be started, hold an <see cref="InstanceLock"/> for the path first.
    /// </remarks>
    public static UnixSocketDoorbell Accept(string path, TimeSpan timeout, CancellationToken cancellation = default)
    {
        sockaddr_un addr = Address(path);
        RemoveStaleSocket(path);
        int listener = Posix.Check(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket");
        FileIdentity? bound = null;
        bool accepted = false;
        try
        {
            Posix.Check(bind(listener, (sockaddr*)&addr, (uint)sizeof(sockaddr_un)), $"bind doorbell socket '{path}'");
            bound = Posix.LStat(path, out stat st) == 0 ? FileIdentity.Of(st) : null;
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
                    try
                    {
                        SetNonBlocking(fd);
                    }
                    catch
                    {
                        close(fd);
                        throw;
                    }
                    accepted = true;
                    return new UnixSocketDoorbell(fd, path, bound);
                }
                if (cancellation.IsCancellationRequested) throw new OperationCanceledException(cancellation);
                if (Environment.TickCount64 >= deadline) throw new TimeoutException($"nobody connected to doorbell socket '{path}' within {timeout}");
            }
        }
        finally
        {
            close(listener);
            if (!accepted && bound is FileIdentity mine) Posix.UnlinkIfSame(path, mine);
        }
    }

    /// <summary>Unlinks a socket file left at <paramref name="path"/>; refuses anything that is not a socket.</summary>
    private static void RemoveStaleSocket(string path)
    {
        int rc = Posix.LStat(path, out stat st);
        if (rc == -ENOENT) return;
        if (rc < 0) throw SharedMemoryException.FromErrno($"lstat doorbell socket path '{path}'", -rc);
        if (!S_ISSOCK(st.st_mode))
            throw new SharedMemoryException($"doorbell socket path '{path}' is {Posix.KindOf(st.st_mode)}, not a socket left behind: refusing to replace it (remove it yourself, or choose another path)");
        rc = Posix.Unlink(path);
        if (rc < 0 && rc != -ENOENT) throw SharedMemoryException.FromErrno($"removing the stale doorbell socket '{path}'", -rc);
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
    public override int WaitFd => _socket.NumberOrInvalid;

    internal override FileDescriptorHandle WaitDescriptor => _socket;

    /// <inheritdoc/>
    public override string Description => _description;

    // The errors a stream socket reports once its peer has closed it.
    private static bool PeerGone(int errno) => errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN;

    /// <summary>Writes one byte (the low byte of <paramref name="notifyId"/>).</summary>
    public override void Ring(uint notifyId = 0)
    {
        byte b = (byte)notifyId;
        int fd = _socket.Enter(_description);
        long n;
        int e;
        try
        {
            do
            {
                n = send(fd, &b, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
                e = n < 0 ? errno : 0;
            }
            while (n < 0 && e == EINTR);
        }
        finally
        {
            _socket.Exit();
        }
        if (n == 1 || e == EAGAIN) return; // EAGAIN: the peer has unread kicks, it will wake anyway
        if (PeerGone(e)) throw new DoorbellClosedException($"the peer closed {Description} ({Posix.ErrorText(e)} on a kick)");
        throw SharedMemoryException.FromErrno($"kick over {Description}", e);
    }

    /// <inheritdoc/>
    public override bool Acknowledge()
    {
        byte* buf = stackalloc byte[64];
        bool any = false;
        int fd = _socket.Enter(_description);
        try
        {
            while (true)
            {
                long n = recv(fd, buf, 64, MSG_DONTWAIT);
                if (n > 0)
                {
                    any = true;
                    continue;
                }
                if (n == 0) throw new DoorbellClosedException($"the peer closed {Description}");
                int e = errno;
                if (e == EINTR) continue;
                if (e == EAGAIN) return any;
                if (PeerGone(e)) throw new DoorbellClosedException($"the peer closed {Description} ({Posix.ErrorText(e)})");
                throw SharedMemoryException.FromErrno($"read from {Description}", e);
            }
        }
        finally
        {
            _socket.Exit();
        }
    }

    /// <summary>Closes the socket and, on the side that bound it, removes the socket file if the path still names it.</summary>
    protected override void Dispose(bool disposing)
    {
        if (_createdSocketFile is FileIdentity mine && !_socket.IsDisposed) Posix.UnlinkIfSame(_path, mine);
        _socket.Dispose();
    }
}

using System.Net.Sockets;
using System.Runtime.InteropServices;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace AmpCan.SharedMem;

/// <summary>
/// Passes file descriptors (memfds, eventfds) with a small payload over a connected UNIX socket (SCM_RIGHTS), the way
/// vhost-user hands guest memory and kick descriptors to a backend.
/// </summary>
/// <remarks>
/// The socket, and the descriptors passed as handles, are referenced for the length of the system call: a socket or
/// descriptor disposed by another thread gives <see cref="ObjectDisposedException"/>, never a message sent on (or a
/// descriptor taken from) whatever reused its number.
/// </remarks>
public static unsafe class UnixFdChannel
{
    /// <summary>The most descriptors one message carries.</summary>
    public const int MaxDescriptors = 16;

    // Tmds.LibC's CMSG_LEN pads the length to the alignment (32 for three descriptors), which would make the kernel
    // pass a fourth, unintended descriptor; this is the glibc definition.
    private static int CmsgLen(int dataLength) => CMSG_ALIGN(sizeof(cmsghdr)) + dataLength;

    /// <summary>Sends <paramref name="payload"/> (at least one byte) and <paramref name="fds"/> in one message.</summary>
    /// <remarks>The numbers are sent as given: they must stay open until this returns (prefer the overload taking handles).</remarks>
    public static void Send(Socket socket, ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds)
    {
        if (payload.IsEmpty) throw new ArgumentException("a descriptor message needs at least one payload byte", nameof(payload));
        if (fds.Length > MaxDescriptors) throw new ArgumentException($"at most {MaxDescriptors} descriptors per message", nameof(fds));
        SafeHandle s = socket.SafeHandle;
        bool added = false;
        try
        {
            s.DangerousAddRef(ref added);
            SendOn((int)s.DangerousGetHandle(), payload, fds);
        }
        finally
        {
            if (added) s.DangerousRelease();
        }
    }

    /// <summary>
    /// Sends <paramref name="payload"/> (at least one byte) and the descriptors behind <paramref name="descriptors"/>,
    /// each kept open until the message has left (a handle already disposed gives <see cref="ObjectDisposedException"/>).
    /// </summary>
    public static void Send(Socket socket, ReadOnlySpan<byte> payload, IReadOnlyList<SafeHandle> descriptors)
    {
        ArgumentNullException.ThrowIfNull(descriptors);
        if (descriptors.Count > MaxDescriptors) throw new ArgumentException($"at most {MaxDescriptors} descriptors per message", nameof(descriptors));
        Span<int> fds = stackalloc int[descriptors.Count];
        int referenced = 0;
        try
        {
            for (; referenced < descriptors.Count; referenced++)
            {
                bool added = false;
                descriptors[referenced].DangerousAddRef(ref added);
                fds[referenced] = (int)descriptors[referenced].DangerousGetHandle();
            }
            Send(socket, payload, fds);
        }
        finally
        {
            for (int i = 0; i < referenced; i++) descriptors[i].DangerousRelease();
        }
    }

    private static void SendOn(int socketFd, ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds)
    {
        int controlLen = CMSG_SPACE(sizeof(int) * MaxDescriptors);
        byte* control = stackalloc byte[controlLen];
        new Span<byte>(control, controlLen).Clear();
        fixed (byte* data = payload)
        {
            iovec iov = default;
            iov.iov_base = data;
            iov.iov_len = (size_t)payload.Length;
            msghdr msg = default;
            msg.msg_iov = &iov;
            msg.msg_iovlen = 1;
            if (fds.Length > 0)
            {
                msg.msg_control = control;
                msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.Length);
                cmsghdr* c = CMSG_FIRSTHDR(&msg);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CmsgLen(sizeof(int) * fds.Length);
                fds.CopyTo(new Span<int>(CMSG_DATA(c), fds.Length));
            }
            long n;
            int e;
            do
            {
                n = sendmsg(socketFd, &msg, MSG_NOSIGNAL);
                e = n < 0 ? errno : 0;
            }
            while (n < 0 && e == EINTR);
            if (n < 0) throw SharedMemoryException.FromErrno("sendmsg with descriptors", e);
            if (n != payload.Length) throw new SharedMemoryException($"sendmsg sent {n} of {payload.Length} bytes");
        }
    }

    /// <summary>
    /// Receives one message into <paramref name="payload"/>; returns the bytes read (0 at end of stream) and the
    /// descriptors that came with it (close-on-exec), which the caller then owns.
    /// </summary>
    public static int Receive(Socket socket, Span<byte> payload, out int[] fds)
    {
        SafeHandle s = socket.SafeHandle;
        bool added = false;
        try
        {
            s.DangerousAddRef(ref added);
            return ReceiveOn((int)s.DangerousGetHandle(), payload, out fds);
        }
        finally
        {
            if (added) s.DangerousRelease();
        }
    }

    private static int ReceiveOn(int socketFd, Span<byte> payload, out int[] fds)
    {
        int controlLen = CMSG_SPACE(sizeof(int) * MaxDescriptors);
        byte* control = stackalloc byte[controlLen];
        fixed (byte* data = payload)
        {
            iovec iov = default;
            iov.iov_base = data;
            iov.iov_len = (size_t)payload.Length;
            msghdr msg = default;
            msg.msg_iov = &iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control;
            msg.msg_controllen = controlLen;
            long n;
            int e;
            do
            {
                n = recvmsg(socketFd, &msg, MSG_CMSG_CLOEXEC);
                e = n < 0 ? errno : 0;
            }
            while (n < 0 && e == EINTR);
            if (n < 0) throw SharedMemoryException.FromErrno("recvmsg with descriptors", e);
            var list = new List<int>();
            for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != null; c = CMSG_NXTHDR(&msg, c))
            {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
                int count = ((int)c->cmsg_len - CmsgLen(0)) / sizeof(int);
                list.AddRange(new ReadOnlySpan<int>(CMSG_DATA(c), count));
            }
            fds = [.. list];
            if ((msg.msg_flags & MSG_CTRUNC) != 0)
            {
                foreach (int fd in fds) close(fd);
                throw new SharedMemoryException($"recvmsg: more than {MaxDescriptors} descriptors arrived; they were closed");
            }
            return (int)n;
        }
    }

    /// <summary>
    /// Checks that a descriptor received from a peer is an eventfd and makes it non-blocking (on the open file the peer
    /// shares), so that signalling it can never block this process: a peer that saturates its counter only loses the
    /// signal. Throws <see cref="SharedMemoryException"/> naming <paramref name="what"/> otherwise.
    /// </summary>
    /// <remarks>A pipe or socket in its place could block the thread that writes it, a regular file could not be waited on.</remarks>
    public static void RequireEventFd(SafeHandle descriptor, string what)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        bool added = false;
        try
        {
            descriptor.DangerousAddRef(ref added);
            int fd = (int)descriptor.DangerousGetHandle();
            string? target = new FileInfo($"/proc/self/fd/{fd}").LinkTarget;
            if (target != "anon_inode:[eventfd]")
                throw new SharedMemoryException($"{what} is not an eventfd ({target ?? "unknown kind"})");
            int flags = fcntl(fd, F_GETFL);
            if (flags < 0 || ((flags & O_NONBLOCK) == 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0))
                throw SharedMemoryException.FromErrno($"making {what} non-blocking", errno);
        }
        finally
        {
            if (added) descriptor.DangerousRelease();
        }
    }

    /// <summary>
    /// The listening end of descriptor channels: a UNIX stream socket bound at a path (created 0600, so only this
    /// user can connect), which hands out one connected <see cref="Socket"/> per peer, as a vhost-user back-end
    /// listens for its front end. Dispose closes it and removes the socket file if the path still names it.
    /// </summary>
    /// <remarks>
    /// A socket file already at the path is probed: one that still has a listener is refused (the path is in use), one
    /// left behind by a listener that died is replaced. Anything else there (a regular file, a symbolic link, a
    /// directory) is refused and left alone.
    /// </remarks>
    public sealed class Listener : IDisposable
    {
        private readonly Socket _socket;
        private readonly FileIdentity _bound;
        private int _disposed;

        private Listener(string path, Socket socket, FileIdentity bound)
        {
            Path = path;
            _socket = socket;
            _bound = bound;
        }

        /// <summary>The socket path.</summary>
        public string Path { get; }

        /// <summary>Binds and listens at <paramref name="path"/>; throws <see cref="SharedMemoryException"/> naming the path when it cannot.</summary>
        public static Listener Bind(string path)
        {
            ArgumentException.ThrowIfNullOrEmpty(path);
            RefuseLiveOrForeign(path);
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            FileIdentity? bound = null;
            try
            {
                try
                {
                    socket.Bind(new UnixDomainSocketEndPoint(path));
                }
                catch (SocketException e)
                {
                    throw new SharedMemoryException($"bind socket '{path}': {e.Message}");
                }
                bound = Posix.LStat(path, out stat st) == 0 ? FileIdentity.Of(st) : null;
                if (bound is null) throw new SharedMemoryException($"socket '{path}' vanished right after bind");
                // Before listen: nobody can connect yet, so nobody gets in under a wider mode.
                byte[] name = System.Text.Encoding.UTF8.GetBytes(path + "\0");
                fixed (byte* p = name) Posix.Check(chmod(p, 0x180 /* 0600 */), $"chmod 0600 '{path}'");
                socket.Listen(4);
                return new Listener(path, socket, bound.Value);
            }
            catch
            {
                socket.Dispose();
                if (bound is FileIdentity mine) Posix.UnlinkIfSame(path, mine);
                throw;
            }
        }

        private static void RefuseLiveOrForeign(string path)
        {
            int rc = Posix.LStat(path, out stat st);
            if (rc == -ENOENT) return;
            if (rc < 0) throw SharedMemoryException.FromErrno($"lstat socket path '{path}'", -rc);
            if (!S_ISSOCK(st.st_mode))
                throw new SharedMemoryException($"socket path '{path}' is {Posix.KindOf(st.st_mode)}, not a socket left behind: refusing to replace it (remove it yourself, or choose another path)");
            using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
            {
                try
                {
                    probe.Connect(new UnixDomainSocketEndPoint(path));
                    throw new SharedMemoryException($"socket path '{path}' is in use: another process listens on it");
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
                {
                    // Nobody listens: a socket file left by a listener that died.
                }
                catch (SocketException e)
                {
                    throw new SharedMemoryException($"socket path '{path}' cannot be probed ({e.Message}): refusing to replace it");
                }
            }
            rc = Posix.Unlink(path);
            if (rc < 0 && rc != -ENOENT) throw SharedMemoryException.FromErrno($"removing the stale socket '{path}'", -rc);
        }

        /// <summary>
        /// Waits for the next peer and returns its connected socket (blocking, close-on-exec); throws
        /// <see cref="OperationCanceledException"/> when <paramref name="cancellation"/> fires or the listener is disposed.
        /// </summary>
        public Socket Accept(CancellationToken cancellation = default)
        {
            while (true)
            {
                cancellation.ThrowIfCancellationRequested();
                if (Volatile.Read(ref _disposed) != 0) throw new OperationCanceledException($"listener '{Path}' was closed");
                try
                {
                    // Polling in short steps: closing a socket does not wake a thread blocked in accept(2) on Linux.
                    if (_socket.Poll(TimeSpan.FromMilliseconds(100), SelectMode.SelectRead)) return _socket.Accept();
                }
                catch (ObjectDisposedException)
                {
                    throw new OperationCanceledException($"listener '{Path}' was closed");
                }
            }
        }

        /// <summary>Stops listening and removes the socket file if the path still names it.</summary>
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
            _socket.Dispose();
            Posix.UnlinkIfSame(Path, _bound);
        }
    }
}

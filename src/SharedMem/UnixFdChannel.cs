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
}

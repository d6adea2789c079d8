using System.Text;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace AmpCan.SharedMem;

/// <summary>What became of a datagram handed to <see cref="RawSocket.TrySend"/>.</summary>
public enum SocketSendResult
{
    /// <summary>The kernel took the whole datagram.</summary>
    Sent,
    /// <summary>No room now (EAGAIN, ENOBUFS): nothing was sent; try again later.</summary>
    Busy,
    /// <summary>The interface is down or gone (ENETDOWN, ENXIO, ENODEV): nothing was sent.</summary>
    Down,
    /// <summary>Any other error (the errno says which): nothing was sent.</summary>
    Failed,
}

/// <summary>What <see cref="RawSocket.TryReceive"/> found.</summary>
public enum SocketReceiveResult
{
    /// <summary>A datagram was read.</summary>
    Received,
    /// <summary>Nothing is waiting (EAGAIN).</summary>
    Empty,
    /// <summary>The socket reported that its interface went down or away (ENETDOWN, ENXIO, ENODEV).</summary>
    Down,
    /// <summary>Any other error (the errno says which).</summary>
    Failed,
}

/// <summary>Why <see cref="RawSocket.WaitReadable"/> returned.</summary>
public enum SocketWaitResult
{
    /// <summary>A receive will not block: a datagram or an error is waiting.</summary>
    Readable,
    /// <summary>The timeout passed first.</summary>
    TimedOut,
    /// <summary><see cref="RawSocket.Wake"/> or <see cref="RawSocket.Dispose"/> was called.</summary>
    Woken,
}

/// <summary>The flags recvmsg(2) reports for one datagram (Linux's MSG_* values).</summary>
[Flags]
public enum ReceivedFlags
{
    /// <summary>None.</summary>
    None = 0,
    /// <summary>MSG_DONTROUTE: on a CAN socket, a frame another local socket sent (local loopback).</summary>
    DontRoute = 0x4,
    /// <summary>MSG_CTRUNC: ancillary data did not fit.</summary>
    ControlTruncated = 0x8,
    /// <summary>MSG_TRUNC: the datagram was longer than the buffer; the rest is lost.</summary>
    Truncated = 0x20,
    /// <summary>MSG_CONFIRM: on a CAN socket, a frame this very socket sent, echoed once the bus took it.</summary>
    Confirm = 0x800,
}

/// <summary>One datagram <see cref="RawSocket.TryReceive"/> read.</summary>
/// <param name="Length">Bytes placed in the buffer.</param>
/// <param name="Flags">What the kernel said about it.</param>
/// <param name="DropCount">
/// The kernel's count of datagrams this socket lost to a full receive buffer when this one was queued (SO_RXQ_OVFL,
/// once <see cref="RawSocket.EnableDropCounter"/> was called; 0 when none was ever lost).
/// </param>
public readonly record struct ReceivedDatagram(int Length, ReceivedFlags Flags, uint DropCount);

/// <summary>
/// A datagram socket of any family over its file descriptor (non-blocking, close-on-exec): bind, options, interface
/// look-ups, sends and receives that report errors as results (no exception, no allocation per datagram), and a wait
/// for readability that <see cref="Wake"/> or <see cref="Dispose"/> cuts short.
/// </summary>
/// <remarks>
/// Every call holds a reference on the descriptor (see <see cref="FileDescriptorHandle"/>): a socket disposed by another
/// thread gives <see cref="ObjectDisposedException"/>, never a call on whatever reused its number. Addresses and option
/// values are passed as the caller laid them out; their lengths are the spans'.
/// </remarks>
public sealed unsafe class RawSocket : IDisposable
{
    /// <summary>IFNAMSIZ: an interface name and its terminating NUL.</summary>
    public const int InterfaceNameSize = 16;

    // struct ifreq: char ifr_name[IFNAMSIZ], then a union whose largest member (struct ifmap) makes it 24 bytes on LP64.
    private const int IfreqSize = 40;
    private const int IfreqUnionOffset = 16;

    // Linux's SIOCGIFMTU (Tmds.LibC has SIOCGIFINDEX and SIOCGIFFLAGS under their names).
    private const int SiocGetInterfaceMtu = 0x8921;

    private readonly FileDescriptorHandle _socket;
    private readonly FileDescriptorHandle _wake;
    private readonly string _description;

    private RawSocket(int fd, string description)
    {
        int wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (wake < 0)
        {
            int e = errno;
            close(fd);
            throw SharedMemoryException.FromErrno("eventfd for a socket's wake-up", e);
        }
        _socket = new FileDescriptorHandle(fd);
        _wake = new FileDescriptorHandle(wake);
        _description = description;
    }

    /// <summary>socket(2) of <paramref name="domain"/>, <paramref name="type"/> and <paramref name="protocol"/>, non-blocking and close-on-exec.</summary>
    /// <exception cref="SharedMemoryException">The kernel refused (its <see cref="SharedMemoryException.Errno"/> says why: EAFNOSUPPORT for a family it lacks).</exception>
    public static RawSocket Open(int domain, int type, int protocol)
    {
        string what = $"socket(domain {domain}, type {type}, protocol {protocol})";
        int fd = socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
        if (fd < 0) throw SharedMemoryException.FromErrno(what, errno);
        return new RawSocket(fd, what);
    }

    /// <summary>socketpair(2): two sockets of <paramref name="domain"/> and <paramref name="type"/> connected to each other, non-blocking and close-on-exec.</summary>
    public static (RawSocket First, RawSocket Second) OpenPair(int domain, int type)
    {
        int* fds = stackalloc int[2];
        string what = $"socketpair(domain {domain}, type {type})";
        Posix.Check(socketpair(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), what);
        RawSocket first;
        try
        {
            first = new RawSocket(fds[0], what + " first");
        }
        catch
        {
            close(fds[1]);
            throw;
        }
        try
        {
            return (first, new RawSocket(fds[1], what + " second"));
        }
        catch
        {
            first.Dispose();
            throw;
        }
    }

    /// <summary>bind(2) to <paramref name="address"/>, a <c>struct sockaddr</c> of the socket's family, as many bytes as the span holds.</summary>
    public void Bind(ReadOnlySpan<byte> address)
    {
        int fd = _socket.Enter(_description);
        try
        {
            fixed (byte* a = address) Posix.Check(bind(fd, (sockaddr*)a, (socklen_t)address.Length), $"bind {_description} ({address.Length}-byte address)");
        }
        finally
        {
            _socket.Exit();
        }
    }

    /// <summary>connect(2) to <paramref name="address"/>, so that <see cref="TrySend"/> has a destination (datagram families that need one).</summary>
    public void Connect(ReadOnlySpan<byte> address)
    {
        int fd = _socket.Enter(_description);
        try
        {
            fixed (byte* a = address)
            {
                int rc;
                do rc = connect(fd, (sockaddr*)a, (socklen_t)address.Length);
                while (rc < 0 && errno == EINTR);
                Posix.Check(rc, $"connect {_description} ({address.Length}-byte address)");
            }
        }
        finally
        {
            _socket.Exit();
        }
    }

    /// <summary>getsockname(2) into <paramref name="address"/>; returns the address's length (which may exceed the span: then it was cut).</summary>
    public int LocalAddress(Span<byte> address)
    {
        int fd = _socket.Enter(_description);
        try
        {
            socklen_t length = (socklen_t)address.Length;
            fixed (byte* a = address) Posix.Check(getsockname(fd, (sockaddr*)a, &length), $"getsockname {_description}");
            return (int)(uint)length;
        }
        finally
        {
            _socket.Exit();
        }
    }

    /// <summary>setsockopt(2) at <paramref name="level"/>, option <paramref name="name"/>, to the bytes of <paramref name="value"/>.</summary>
    public void SetOption(int level, int name, ReadOnlySpan<byte> value)
    {
        int fd = _socket.Enter(_description);
        try
        {
            fixed (byte* v = value) Posix.Check(setsockopt(fd, level, name, v, (socklen_t)value.Length), $"setsockopt level {level} option {name} on {_description}");
        }
        finally
        {
            _socket.Exit();
        }
    }

    /// <summary>setsockopt(2) of a C int option.</summary>
    public void SetOption(int level, int name, int value) =>
        SetOption(level, name, new ReadOnlySpan<byte>(&value, sizeof(int)));

    /// <summary>getsockopt(2) into <paramref name="value"/>; returns how many bytes the kernel wrote.</summary>
    public int GetOption(int level, int name, Span<byte> value)
    {
        int fd = _socket.Enter(_description);
        try
        {
            socklen_t length = (socklen_t)value.Length;
            fixed (byte* v = value) Posix.Check(getsockopt(fd, level, name, v, &length), $"getsockopt level {level} option {name} on {_description}");
            return (int)(uint)length;
        }
        finally
        {
            _socket.Exit();
        }
    }

    /// <summary>getsockopt(2) of a C int option.</summary>
    public int GetInt32Option(int level, int name)
    {
        int value = 0;
        int n = GetOption(level, name, new Span<byte>(&value, sizeof(int)));
        if (n != sizeof(int)) throw new SharedMemoryException($"getsockopt level {level} option {name} on {_description} gave {n} bytes, not an int");
        return value;
    }

    /// <summary>
    /// Asks for a receive buffer of <paramref name="bytes"/>: past the system's limit (net.core.rmem_max) when the
    /// process may (SO_RCVBUFFORCE, CAP_NET_ADMIN), up to it otherwise. Returns what the kernel granted (its
    /// bookkeeping doubles the request).
    /// </summary>
    public int SetReceiveBuffer(int bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        try
        {
            SetOption(SOL_SOCKET, SO_RCVBUFFORCE, bytes);
        }
        catch (SharedMemoryException e) when (e.Errno == EPERM)
        {
            SetOption(SOL_SOCKET, SO_RCVBUF, bytes);
        }
        return GetInt32Option(SOL_SOCKET, SO_RCVBUF);
    }

    /// <summary>Turns on SO_RXQ_OVFL: every datagram then carries the socket's drop count (<see cref="ReceivedDatagram.DropCount"/>).</summary>
    public void EnableDropCounter() => SetOption(SOL_SOCKET, SO_RXQ_OVFL, 1);

    /// <summary>
    /// How many datagrams the kernel dropped for this socket since it was opened (SO_MEMINFO's drop count, what
    /// SO_RXQ_OVFL stamps on later datagrams), read now: also when no datagram came after the drops.
    /// </summary>
    public uint DropCount()
    {
        const int MemInfoDrops = 8; // SK_MEMINFO_DROPS in the u32 array SO_MEMINFO returns
        Span<uint> info = stackalloc uint[16];
        int n = GetOption(SOL_SOCKET, SO_MEMINFO, System.Runtime.InteropServices.MemoryMarshal.AsBytes(info));
        if (n < (MemInfoDrops + 1) * sizeof(uint)) throw new SharedMemoryException($"SO_MEMINFO on {_description} gave {n} bytes, too few for the drop count");
        return info[MemInfoDrops];
    }

    /// <summary>The index of network interface <paramref name="name"/> (SIOCGIFINDEX).</summary>
    /// <exception cref="ArgumentException">The name is empty, longer than 15 bytes or holds a NUL.</exception>
    /// <exception cref="SharedMemoryException">No such interface (Errno ENODEV), or the kernel refused.</exception>
    public int InterfaceIndex(string name) => InterfaceRequest(name, SIOCGIFINDEX, "SIOCGIFINDEX");

    /// <summary>Whether network interface <paramref name="name"/> is administratively up (SIOCGIFFLAGS, IFF_UP).</summary>
    /// <exception cref="SharedMemoryException">No such interface (Errno ENODEV), or the kernel refused.</exception>
    public bool InterfaceIsUp(string name) => (InterfaceRequest(name, SIOCGIFFLAGS, "SIOCGIFFLAGS") & 0x1) != 0;

    /// <summary>The MTU of network interface <paramref name="name"/> (SIOCGIFMTU).</summary>
    /// <exception cref="SharedMemoryException">No such interface (Errno ENODEV), or the kernel refused.</exception>
    public int InterfaceMtu(string name) => InterfaceRequest(name, SiocGetInterfaceMtu, "SIOCGIFMTU");

    // One ioctl with a struct ifreq naming the interface; the answer is read as the union's first int (ifr_ifindex,
    // ifr_mtu; ifr_flags is a short at the same place, little-endian, so its bits are the int's low ones).
    private int InterfaceRequest(string name, int request, string requestName)
    {
        byte* ifr = stackalloc byte[IfreqSize];
        var span = new Span<byte>(ifr, IfreqSize);
        span.Clear();
        WriteInterfaceName(name, span[..InterfaceNameSize]);
        int fd = _socket.Enter(_description);
        try
        {
            if (ioctl(fd, request, ifr) < 0) throw SharedMemoryException.FromErrno($"{requestName} of interface '{name}'", errno);
        }
        finally
        {
            _socket.Exit();
        }
        int answer = *(int*)(ifr + IfreqUnionOffset);
        return request == SIOCGIFFLAGS ? (ushort)answer : answer;
    }

    /// <summary>Writes <paramref name="name"/> NUL-terminated into an interface-name field of <see cref="InterfaceNameSize"/> bytes.</summary>
    /// <exception cref="ArgumentException">The name is empty, longer than 15 bytes in UTF-8, or holds a NUL.</exception>
    public static void WriteInterfaceName(string name, Span<byte> field)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Contains('\0')) throw new ArgumentException($"interface name '{name.Replace("\0", "\\0")}' holds a NUL byte", nameof(name));
        int bytes = Encoding.UTF8.GetByteCount(name);
        if (bytes > InterfaceNameSize - 1)
            throw new ArgumentException($"interface name '{name}' is {bytes} bytes; Linux allows at most {InterfaceNameSize - 1}", nameof(name));
        field.Clear();
        Encoding.UTF8.GetBytes(name, field);
    }

    /// <summary>Sends <paramref name="datagram"/> without blocking; <paramref name="error"/> is the errno when it was not sent.</summary>
    public SocketSendResult TrySend(ReadOnlySpan<byte> datagram, out int error)
    {
        int fd = _socket.Enter(_description);
        try
        {
            fixed (byte* d = datagram)
            {
                while (true)
                {
                    long n = send(fd, d, (size_t)datagram.Length, MSG_DONTWAIT | MSG_NOSIGNAL);
                    if (n >= 0)
                    {
                        // A datagram goes whole or not at all; anything else is a socket type this is not meant for.
                        error = n == datagram.Length ? 0 : EMSGSIZE;
                        return error == 0 ? SocketSendResult.Sent : SocketSendResult.Failed;
                    }
                    int e = errno;
                    if (e == EINTR) continue;
                    error = e;
                    return ClassifySendError(e);
                }
            }
        }
        finally
        {
            _socket.Exit();
        }
    }

    /// <summary>
    /// Reads one datagram without blocking into <paramref name="buffer"/> (a longer one is cut and flagged
    /// <see cref="ReceivedFlags.Truncated"/>); <paramref name="error"/> is the errno when none was read.
    /// </summary>
    public SocketReceiveResult TryReceive(Span<byte> buffer, out ReceivedDatagram datagram, out int error)
    {
        const int ControlSize = 64; // room for SO_RXQ_OVFL's 4 bytes and a timestamp someone might turn on
        byte* control = stackalloc byte[ControlSize];
        int fd = _socket.Enter(_description);
        try
        {
            fixed (byte* data = buffer)
            {
                iovec iov = default;
                iov.iov_base = data;
                iov.iov_len = (size_t)buffer.Length;
                msghdr msg = default;
                msg.msg_iov = &iov;
                msg.msg_iovlen = 1;
                while (true)
                {
                    msg.msg_control = control;
                    msg.msg_controllen = ControlSize;
                    msg.msg_flags = 0;
                    long n = recvmsg(fd, &msg, MSG_DONTWAIT);
                    if (n < 0)
                    {
                        int e = errno;
                        if (e == EINTR) continue;
                        datagram = default;
                        error = e;
                        return ClassifyReceiveError(e);
                    }
                    uint drops = 0;
                    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != null; c = CMSG_NXTHDR(&msg, c))
                        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL && (uint)c->cmsg_len >= CMSG_ALIGN(sizeof(cmsghdr)) + sizeof(uint))
                            drops = *(uint*)CMSG_DATA(c);
                    const ReceivedFlags known = ReceivedFlags.DontRoute | ReceivedFlags.ControlTruncated | ReceivedFlags.Truncated | ReceivedFlags.Confirm;
                    datagram = new ReceivedDatagram((int)n, (ReceivedFlags)msg.msg_flags & known, drops);
                    error = 0;
                    return SocketReceiveResult.Received;
                }
            }
        }
        finally
        {
            _socket.Exit();
        }
    }

    /// <summary>
    /// Waits until a receive will not block, <paramref name="timeoutMilliseconds"/> pass (negative: no limit), or
    /// another thread calls <see cref="Wake"/> or <see cref="Dispose"/>.
    /// </summary>
    public SocketWaitResult WaitReadable(int timeoutMilliseconds)
    {
        pollfd* fds = stackalloc pollfd[2];
        int socketFd = _socket.Enter(_description);
        try
        {
            int wakeFd = _wake.Enter(_description);
            try
            {
                fds[0].fd = socketFd;
                fds[0].events = (short)POLLIN;
                fds[1].fd = wakeFd;
                fds[1].events = (short)POLLIN;
                while (true)
                {
                    fds[0].revents = 0;
                    fds[1].revents = 0;
                    int n = poll(fds, 2, timeoutMilliseconds);
                    if (n < 0)
                    {
                        int e = errno;
                        if (e == EINTR) continue; // the timeout restarts: a signal is rare and the callers loop anyway
                        throw SharedMemoryException.FromErrno($"poll {_description}", e);
                    }
                    if (n == 0) return SocketWaitResult.TimedOut;
                    if (fds[1].revents != 0)
                    {
                        ulong count;
                        Posix.Read(wakeFd, &count, 8); // clears it; EAGAIN means another waiter took it
                        return SocketWaitResult.Woken;
                    }
                    // POLLERR and POLLHUP count too: the receive that follows reports what happened.
                    return SocketWaitResult.Readable;
                }
            }
            finally
            {
                _wake.Exit();
            }
        }
        finally
        {
            _socket.Exit();
        }
    }

    /// <summary>Makes a thread waiting in <see cref="WaitReadable"/> return <see cref="SocketWaitResult.Woken"/> (or the next call, if none waits).</summary>
    public void Wake()
    {
        int fd;
        try
        {
            fd = _wake.Enter(_description);
        }
        catch (ObjectDisposedException)
        {
            return; // disposed: nobody can wait any more
        }
        try
        {
            ulong one = 1;
            Posix.Write(fd, &one, 8); // EAGAIN only when the counter is saturated: the waiter wakes anyway
        }
        finally
        {
            _wake.Exit();
        }
    }

    /// <summary>What a send's errno means for the caller.</summary>
    internal static SocketSendResult ClassifySendError(int error) =>
        error == EAGAIN || error == ENOBUFS ? SocketSendResult.Busy
        : IsDown(error) ? SocketSendResult.Down
        : SocketSendResult.Failed;

    /// <summary>What a receive's errno means for the caller.</summary>
    internal static SocketReceiveResult ClassifyReceiveError(int error) =>
        error == EAGAIN ? SocketReceiveResult.Empty
        : IsDown(error) ? SocketReceiveResult.Down
        : SocketReceiveResult.Failed;

    private static bool IsDown(int error) => error == ENETDOWN || error == ENXIO || error == ENODEV;

    /// <inheritdoc/>
    public override string ToString() => _description;

    /// <summary>Wakes any waiter and closes the socket (once no call is using it).</summary>
    public void Dispose()
    {
        Wake();
        _socket.Dispose();
        _wake.Dispose();
    }
}

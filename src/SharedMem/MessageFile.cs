using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace AmpCan.SharedMem;

/// <summary>
/// A descriptor used one message per call, as programs use <c>/dev/rpmsgN</c>: plain read(2) and write(2), no file
/// offset (FileStream would use pread/pwrite, which a stream file refuses with ESPIPE), -errno instead of exceptions so
/// that a caller can compare errnos, EINTR retried.
/// </summary>
public sealed unsafe class MessageFile : IDisposable
{
    private readonly FileDescriptorHandle _fd;

    private MessageFile(int fd) => _fd = new FileDescriptorHandle(fd);

    /// <summary>open(2) of <paramref name="path"/> with <paramref name="flags"/> (O_RDWR = 2, O_NONBLOCK = 0x800): the file, or null and <paramref name="errno"/>.</summary>
    public static MessageFile? Open(string path, int flags, out int errno)
    {
        int fd = Posix.TryOpen(path, flags);
        errno = fd < 0 ? -fd : 0;
        return fd < 0 ? null : new MessageFile(fd);
    }

    /// <summary>A connected pair of SOCK_SEQPACKET sockets: message boundaries kept, as a character device keeps them.</summary>
    public static (MessageFile First, MessageFile Second) SequencedPacketPair()
    {
        int* fds = stackalloc int[2];
        Posix.Check(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), "socketpair(AF_UNIX, SOCK_SEQPACKET)");
        return (new MessageFile(fds[0]), new MessageFile(fds[1]));
    }

    /// <summary>read(2) into <paramref name="buffer"/>: bytes read, or -errno.</summary>
    public int Read(Span<byte> buffer)
    {
        int fd = _fd.Enter(nameof(MessageFile));
        try
        {
            fixed (byte* p = buffer) return (int)Posix.Read(fd, p, (ulong)buffer.Length);
        }
        finally { _fd.Exit(); }
    }

    /// <summary>write(2) of <paramref name="message"/>: bytes written, or -errno.</summary>
    public int Write(ReadOnlySpan<byte> message)
    {
        int fd = _fd.Enter(nameof(MessageFile));
        try
        {
            fixed (byte* p = message) return (int)Posix.Write(fd, p, (ulong)message.Length);
        }
        finally { _fd.Exit(); }
    }

    /// <summary>Closes the descriptor.</summary>
    public void Dispose() => _fd.Dispose();
}

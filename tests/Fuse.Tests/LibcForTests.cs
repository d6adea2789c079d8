using System.Runtime.InteropServices;

namespace AmpCan.Tests.Fuse;

/// <summary>The client side's system calls, made by path and array (tests stay free of unsafe code).</summary>
internal static class LibcForTests
{
    public const int ORdwr = 2, ONonblock = 0x800, OCloexec = 0x80000;
    public const short PollIn = 1, PollOut = 4;
    public const int EAGAIN = 11, ENOTTY = 25;
    public const int AfUnix = 1, SockSeqpacket = 5, SockCloexec = 0x80000;

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short ReadyEvents;
    }

    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    public static extern int Open(string path, int flags, uint mode = 0);

    [DllImport("libc", EntryPoint = "close", SetLastError = true)]
    public static extern int Close(int fd);

    [DllImport("libc", EntryPoint = "read", SetLastError = true)]
    public static extern nint Read(int fd, byte[] buffer, nint count);

    [DllImport("libc", EntryPoint = "write", SetLastError = true)]
    public static extern nint Write(int fd, byte[] buffer, nint count);

    [DllImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    public static extern int Ioctl(int fd, ulong request, byte[] argument);

    [DllImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    public static extern int Ioctl(int fd, ulong request, nint argument);

    [DllImport("libc", EntryPoint = "socketpair", SetLastError = true)]
    public static extern int SocketPair(int domain, int type, int protocol, [Out] int[] fds);

    [DllImport("libc", EntryPoint = "poll", SetLastError = true)]
    public static extern int Poll([In, Out] PollFd[] fds, nuint count, int timeoutMs);

    public static int Errno => Marshal.GetLastPInvokeError();
}

using System.Runtime.InteropServices;

namespace AmpCan.Tests.SharedMem;

/// <summary>The few libc calls the tests make by path (Tmds.LibC takes pointers, and tests stay free of unsafe code).</summary>
internal static class LibcForTests
{
    [DllImport("libc", EntryPoint = "memfd_create", SetLastError = true)]
    public static extern int MemfdCreate(string name, uint flags);

    [DllImport("libc", EntryPoint = "lstat", SetLastError = true)]
    public static extern int LStat(string path, out Tmds.Linux.stat status);

    [DllImport("libc", EntryPoint = "chown", SetLastError = true)]
    public static extern int Chown(string path, uint owner, uint group);

    [DllImport("libc", EntryPoint = "mkfifo", SetLastError = true)]
    public static extern int MkFifo(string path, uint mode);

    [DllImport("libc", EntryPoint = "pipe2", SetLastError = true)]
    public static extern int Pipe2([Out] int[] fds, int flags);

    [DllImport("libc", EntryPoint = "socketpair", SetLastError = true)]
    public static extern int SocketPair(int domain, int type, int protocol, [Out] int[] fds);

    [DllImport("libc", EntryPoint = "read", SetLastError = true)]
    public static extern nint Read(int fd, byte[] buffer, nint count);

    [DllImport("libc", EntryPoint = "write", SetLastError = true)]
    public static extern nint Write(int fd, byte[] buffer, nint count);

    [DllImport("libc", EntryPoint = "bind", SetLastError = true)]
    private static extern int Bind(int fd, byte[] address, uint length);

    /// <summary>
    /// Binds a UNIX socket at <paramref name="path"/> and closes it, leaving the socket file as a listener that died
    /// would (.NET's Socket removes the file it bound when disposed).
    /// </summary>
    public static void LeaveSocketFile(string path)
    {
        byte[] address = new byte[110]; // struct sockaddr_un: sa_family_t sun_family, char sun_path[108]
        address[0] = (byte)Tmds.Linux.LibC.AF_UNIX;
        System.Text.Encoding.UTF8.GetBytes(path).CopyTo(address, 2);
        int fd = Tmds.Linux.LibC.socket(Tmds.Linux.LibC.AF_UNIX, Tmds.Linux.LibC.SOCK_STREAM | Tmds.Linux.LibC.SOCK_CLOEXEC, 0);
        Assert.That(fd, Is.GreaterThanOrEqualTo(0), "socket");
        try
        {
            Assert.That(Bind(fd, address, (uint)address.Length), Is.Zero, $"bind {path}: errno {Marshal.GetLastPInvokeError()}");
        }
        finally
        {
            Tmds.Linux.LibC.close(fd);
        }
    }

    /// <summary>True when a socket file is at <paramref name="path"/>.</summary>
    public static bool IsSocket(string path) => LStat(path, out Tmds.Linux.stat st) == 0 && Tmds.Linux.LibC.S_ISSOCK(st.st_mode);

    /// <summary>lstat of <paramref name="path"/>, asserting that it exists.</summary>
    public static Tmds.Linux.stat StatOf(string path)
    {
        Assert.That(LStat(path, out Tmds.Linux.stat st), Is.Zero, $"lstat {path}: errno {Marshal.GetLastPInvokeError()}");
        return st;
    }
}

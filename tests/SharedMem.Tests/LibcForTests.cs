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

    /// <summary>lstat of <paramref name="path"/>, asserting that it exists.</summary>
    public static Tmds.Linux.stat StatOf(string path)
    {
        Assert.That(LStat(path, out Tmds.Linux.stat st), Is.Zero, $"lstat {path}: errno {Marshal.GetLastPInvokeError()}");
        return st;
    }
}

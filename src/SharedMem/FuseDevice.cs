using System.Runtime.InteropServices;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace AmpCan.SharedMem;

/// <summary>
/// An open <c>/dev/fuse</c> (or <c>/dev/cuse</c>) descriptor: whole-request reads, whole-reply writes, and the
/// mount(2)/umount2(2) calls that attach it to a directory. Calls return -errno instead of throwing, so that a
/// server loop can decide what each failure costs.
/// </summary>
public sealed unsafe class FuseDevice : IDisposable
{
    private const nuint MsNosuid = 2, MsNodev = 4; // <linux/mount.h>
    private const int MntDetach = 2;

    private readonly FileDescriptorHandle _fd;

    private FuseDevice(int fd) => _fd = new FileDescriptorHandle(fd);

    /// <summary>Opens <paramref name="path"/> read-write; throws <see cref="SharedMemoryException"/> naming it if that fails.</summary>
    public static FuseDevice Open(string path = "/dev/fuse") => new(Posix.Open(path, O_RDWR));

    /// <summary>
    /// Takes ownership of <paramref name="fd"/>, already open and speaking the FUSE protocol: a kernel stand-in's
    /// SOCK_SEQPACKET socket in tests (it keeps message boundaries as /dev/fuse does).
    /// </summary>
    public static FuseDevice Adopt(int fd) => new(fd);

    /// <summary>The descriptor number (for the <c>fd=N</c> mount option); -1 once disposed.</summary>
    public int Number => _fd.NumberOrInvalid;

    /// <summary>
    /// Mounts this device's file system at <paramref name="target"/> as type <c>fuse.<paramref name="subtype"/></c>,
    /// nosuid and nodev, with <c>fd=N,</c> prepended to <paramref name="options"/>; 0 or -errno.
    /// </summary>
    public int Mount(string target, string subtype, string options)
    {
        int fd = _fd.Enter(nameof(FuseDevice));
        try
        {
            string data = $"fd={fd},{options}";
            int rc = MountCall(subtype, target, "fuse." + subtype, MsNosuid | MsNodev, data);
            return rc == 0 ? 0 : -Marshal.GetLastPInvokeError();
        }
        finally
        {
            _fd.Exit();
        }
    }

    /// <summary>Lazily unmounts <paramref name="target"/> (MNT_DETACH): the server's next read sees ENODEV; 0 or -errno.</summary>
    public static int Unmount(string target) =>
        Umount2Call(target, MntDetach) == 0 ? 0 : -Marshal.GetLastPInvokeError();

    /// <summary>Reads one request into <paramref name="buffer"/>: its length, or -errno (EINTR retried).</summary>
    public int Read(Span<byte> buffer)
    {
        int fd;
        try
        {
            fd = _fd.Enter(nameof(FuseDevice));
        }
        catch (ObjectDisposedException)
        {
            return -EBADF;
        }
        try
        {
            fixed (byte* p = buffer) return (int)Posix.Read(fd, p, (ulong)buffer.Length);
        }
        finally
        {
            _fd.Exit();
        }
    }

    /// <summary>
    /// Writes one reply or notification, <paramref name="header"/> then <paramref name="body"/>, in one writev(2):
    /// the bytes written, or -errno (ENOENT when the kernel no longer waits for that request).
    /// </summary>
    public int Write(ReadOnlySpan<byte> header, ReadOnlySpan<byte> body)
    {
        int fd;
        try
        {
            fd = _fd.Enter(nameof(FuseDevice));
        }
        catch (ObjectDisposedException)
        {
            return -EBADF;
        }
        try
        {
            fixed (byte* h = header)
            fixed (byte* b = body)
            {
                iovec* iov = stackalloc iovec[2];
                iov[0].iov_base = h;
                iov[0].iov_len = (size_t)header.Length;
                iov[1].iov_base = b;
                iov[1].iov_len = (size_t)body.Length;
                int count = body.Length == 0 ? 1 : 2;
                while (true)
                {
                    long n = WritevCall(fd, iov, count);
                    if (n >= 0) return (int)n;
                    int e = Marshal.GetLastPInvokeError();
                    if (e != EINTR) return -e;
                }
            }
        }
        finally
        {
            _fd.Exit();
        }
    }

    /// <summary>Closes the descriptor once no call is using it (a mounted file system is then aborted by the kernel).</summary>
    public void Dispose() => _fd.Dispose();

    // mountflags is a C unsigned long: 4 bytes on 32-bit Arm, where a 64-bit argument would take an aligned register
    // pair and shift the data pointer onto the stack.
    [DllImport("libc", EntryPoint = "mount", SetLastError = true)]
    internal static extern int MountCall(string source, string target, string fsType, nuint flags, string data);

    [DllImport("libc", EntryPoint = "writev", SetLastError = true)]
    private static extern nint WritevCall(int fd, iovec* iov, int count);

    [DllImport("libc", EntryPoint = "umount2", SetLastError = true)]
    private static extern int Umount2Call(string target, int flags);
}

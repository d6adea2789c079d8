using System.Runtime.InteropServices;
using System.Text;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace AmpCan.SharedMem;

/// <summary>Thin wrappers over the system calls this layer needs, turning -1 into a named exception.</summary>
internal static unsafe class Posix
{
    public static readonly ulong PageSize = (ulong)Environment.SystemPageSize;

    public static int Check(int rc, string what)
    {
        if (rc < 0) throw SharedMemoryException.FromErrno(what, errno);
        return rc;
    }

    public static int Open(string path, int flags, uint mode = 0)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes)
        {
            int fd;
            do fd = open(p, flags | O_CLOEXEC, (mode_t)mode);
            while (fd < 0 && errno == EINTR);
            return Check(fd, $"open '{path}'");
        }
    }

    public static void Close(int fd)
    {
        if (fd >= 0) close(fd);
    }

    /// <summary>Reads exactly the buffer's length or reports how much was read; retries on EINTR, returns -errno on EAGAIN.</summary>
    public static long Read(int fd, void* buf, ulong count)
    {
        while (true)
        {
            long n = read(fd, buf, (size_t)count);
            if (n >= 0) return n;
            int e = errno;
            if (e == EINTR) continue;
            return -e;
        }
    }

    public static long Write(int fd, void* buf, ulong count)
    {
        while (true)
        {
            long n = write(fd, buf, (size_t)count);
            if (n >= 0) return n;
            int e = errno;
            if (e == EINTR) continue;
            return -e;
        }
    }

    public static string ErrorText(int errno) => $"{Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";

    private const uint HugetlbfsMagic = 0x958458f6;

    [DllImport("libc", EntryPoint = "fstatfs", SetLastError = true)]
    private static extern int FStatFs(int fd, byte* buf);

    /// <summary>The page size mappings of this file come in: the huge page size on hugetlbfs, the system's otherwise.</summary>
    public static ulong FilePageSize(int fd)
    {
        // struct statfs starts with f_type and f_bsize, each a C long (so nint) on every Linux ABI this runs on.
        byte* buf = stackalloc byte[512];
        if (FStatFs(fd, buf) != 0) return PageSize;
        nint type = *(nint*)buf, blockSize = *(nint*)(buf + sizeof(nint));
        return (uint)type == HugetlbfsMagic && blockSize > 0 ? (ulong)blockSize : PageSize;
    }

    public static ulong FileSize(int fd, string what)
    {
        stat st;
        Check(fstat(fd, &st), $"fstat {what}");
        return (ulong)(long)st.st_size;
    }
}

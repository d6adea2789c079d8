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
        int fd = TryOpen(path, flags, mode);
        if (fd < 0) throw SharedMemoryException.FromErrno($"open '{path}'", -fd);
        return fd;
    }

    /// <summary>open(2) with close-on-exec, retried on EINTR; the descriptor, or -errno.</summary>
    public static int TryOpen(string path, int flags, uint mode = 0)
    {
        byte[] bytes = PathBytes(path);
        fixed (byte* p = bytes)
        {
            while (true)
            {
                int fd = open(p, flags | O_CLOEXEC, (mode_t)(ushort)mode);
                if (fd >= 0) return fd;
                int e = errno;
                if (e != EINTR) return -e;
            }
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

    // fstatfs64: on 32-bit glibc plain fstatfs fails with EOVERFLOW on a file system whose block counts pass 2^32; on
    // 64-bit glibc both names are the same function. f_type and f_bsize lead both structs, each a C long.
    [DllImport("libc", EntryPoint = "fstatfs64", SetLastError = true)]
    internal static extern int FStatFs(int fd, byte* buf);

    /// <summary>The page size mappings of this file come in: the huge page size on hugetlbfs, the system's otherwise.</summary>
    public static ulong FilePageSize(int fd)
    {
        byte* buf = stackalloc byte[512];
        if (FStatFs(fd, buf) != 0) return PageSize;
        nint type = *(nint*)buf, blockSize = *(nint*)(buf + sizeof(nint));
        return (uint)type == HugetlbfsMagic && blockSize > 0 ? (ulong)blockSize : PageSize;
    }

    public static ulong FileSize(int fd, string what) => (ulong)(long)FStat(fd, what).st_size;

    public static stat FStat(int fd, string what)
    {
        stat st;
        Check(fstat(fd, &st), $"fstat {what}");
        return st;
    }

    /// <summary>lstat(2) of <paramref name="path"/>: 0 and the status, or -errno (-ENOENT when nothing is there).</summary>
    public static int LStat(string path, out stat status)
    {
        byte[] bytes = PathBytes(path);
        stat st;
        int rc;
        fixed (byte* p = bytes) rc = lstat(p, &st);
        status = st;
        return rc == 0 ? 0 : -errno;
    }

    /// <summary>Removes <paramref name="path"/>; 0 or -errno.</summary>
    public static int Unlink(string path)
    {
        byte[] bytes = PathBytes(path);
        fixed (byte* p = bytes) return unlink(p) == 0 ? 0 : -errno;
    }

    /// <summary>
    /// Removes <paramref name="path"/> only while it still names the file identified by <paramref name="identity"/>:
    /// whoever replaced it meanwhile keeps theirs. True when it was removed.
    /// </summary>
    public static bool UnlinkIfSame(string path, FileIdentity identity)
    {
        if (LStat(path, out stat st) != 0 || FileIdentity.Of(st) != identity) return false;
        return Unlink(path) == 0;
    }

    /// <summary>What kind of file a mode describes, for messages ("a symbolic link", "a directory").</summary>
    public static string KindOf(mode_t mode)
    {
        if (S_ISREG(mode)) return "a regular file";
        if (S_ISLNK(mode)) return "a symbolic link";
        if (S_ISSOCK(mode)) return "a socket";
        if (S_ISDIR(mode)) return "a directory";
        if (S_ISFIFO(mode)) return "a FIFO";
        if (S_ISCHR(mode)) return "a character device";
        if (S_ISBLK(mode)) return "a block device";
        int type = ((ushort)mode & 0xF000) >> 12;
        return type == 0 ? "an anonymous inode (an eventfd, epoll or timer descriptor)" : $"a file of type 0{Convert.ToString(type, 8)}";
    }

    /// <summary>F_GET_SEALS: the seals of <paramref name="fd"/>, or null where the file system has none (EINVAL).</summary>
    public static FileSeals? GetSeals(int fd, string what)
    {
        int rc = fcntl(fd, F_GET_SEALS);
        if (rc >= 0) return (FileSeals)rc;
        int e = errno;
        if (e == EINVAL) return null;
        throw SharedMemoryException.FromErrno($"F_GET_SEALS on {what}", e);
    }

    private static byte[] PathBytes(string path)
    {
        if (path.Contains('\0')) throw new ArgumentException($"path '{path.Replace("\0", "\\0")}' contains a NUL byte", nameof(path));
        return Encoding.UTF8.GetBytes(path + "\0");
    }
}

/// <summary>The device and inode that identify one file, whatever names it has.</summary>
internal readonly record struct FileIdentity(ulong Device, ulong Inode)
{
    public static FileIdentity Of(in stat st) => new(st.st_dev, st.st_ino);
}

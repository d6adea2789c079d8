using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace AmpCan.SharedMem.Ordering;

/// <summary>
/// A few routines of machine code mapped executable, for instructions .NET does not emit (outer-shareable and
/// full-system barriers). Mapped once for the process's lifetime, never writable while executable.
/// </summary>
internal static unsafe class ExecutableCode
{
    private const uint MFD_EXEC = 0x10; // memfd_create(2), Linux 6.3: asks for an executable memfd where vm.memfd_noexec defaults otherwise

    /// <summary>
    /// Maps <paramref name="code"/> read+execute and returns its address, or null with <paramref name="why"/> saying
    /// what refused it. The bytes reach the page through a memfd's write(): mapping a file page executable makes the
    /// kernel clean the data cache and invalidate the instruction cache for it (arm64's __sync_icache_dcache), which
    /// user space could not do before it has code to run. A system that forbids executable memfds gets an anonymous
    /// page written, then made read+execute (mprotect: the same cache maintenance on the new executable mapping).
    /// </summary>
    public static byte* Map(ReadOnlySpan<byte> code, out string? why)
    {
        why = null;
        ulong length = Posix.PageSize;
        if ((ulong)code.Length > length) throw new ArgumentException("the code does not fit a page", nameof(code));
        byte* p = FromMemfd(code, length, out string? memfdWhy);
        if (p != null) return p;
        p = FromAnonymous(code, length, out string? anonWhy);
        if (p != null) return p;
        why = $"{memfdWhy}; {anonWhy}";
        return null;
    }

    private static byte* FromMemfd(ReadOnlySpan<byte> code, ulong length, out string? why)
    {
        why = null;
        byte* name = stackalloc byte[] { (byte)'a', (byte)'m', (byte)'p', (byte)'c', (byte)'a', (byte)'n', (byte)'-', (byte)'c', (byte)'o', (byte)'d', (byte)'e', 0 };
        int fd = memfd_create(name, MFD_CLOEXEC | (int)MFD_EXEC);
        if (fd < 0 && errno == EINVAL) fd = memfd_create(name, MFD_CLOEXEC); // a kernel before 6.3 knows no MFD_EXEC
        if (fd < 0)
        {
            why = $"memfd_create: {Posix.ErrorText(errno)}";
            return null;
        }
        try
        {
            if (ftruncate(fd, (long)length) != 0)
            {
                why = $"ftruncate of the code memfd: {Posix.ErrorText(errno)}";
                return null;
            }
            fixed (byte* src = code)
            {
                long n = Posix.Write(fd, src, (ulong)code.Length);
                if (n != code.Length)
                {
                    why = $"write of the code memfd: {(n < 0 ? Posix.ErrorText((int)-n) : "short write")}";
                    return null;
                }
            }
            void* p = mmap(null, (size_t)length, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
            if (p == MAP_FAILED)
            {
                why = $"mmap of the code memfd read+execute: {Posix.ErrorText(errno)}";
                return null;
            }
            return (byte*)p;
        }
        finally
        {
            close(fd);
        }
    }

    private static byte* FromAnonymous(ReadOnlySpan<byte> code, ulong length, out string? why)
    {
        why = null;
        void* p = mmap(null, (size_t)length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
        {
            why = $"anonymous mmap: {Posix.ErrorText(errno)}";
            return null;
        }
        code.CopyTo(new Span<byte>(p, code.Length));
        if (mprotect(p, (size_t)length, PROT_READ | PROT_EXEC) != 0)
        {
            why = $"mprotect read+execute: {Posix.ErrorText(errno)}";
            munmap(p, (size_t)length);
            return null;
        }
        return (byte*)p;
    }
}

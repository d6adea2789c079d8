using System.Globalization;
using System.Text;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace AmpCan.SharedMem;

/// <summary>
/// Proof that this process is the only one serving a resource (a board's shared file or doorbell socket): an exclusive
/// open-file-description lock (fcntl F_OFD_SETLK) on a lock file that holds the holder's pid and command line. A second
/// holder is refused with a message naming the first; a lock file left by a holder that died is simply taken over (the
/// kernel drops a lock with the last descriptor of its holder).
/// </summary>
/// <remarks>
/// The caller picks the lock path, so roles that may share a board (a host and a remote) use different files and two
/// of one role collide. An OFD lock belongs to the open file, so two opens in one process exclude each other too, and
/// it conflicts with classic record locks (lockf, F_SETLK) taken by other programs. Not flock(2): .NET emulates file
/// sharing with flock, so any .NET program merely reading the lock file would hold off the next taker. Dispose removes
/// the file before letting go of the lock; a taker therefore checks after locking that the path still names what it locked.
/// </remarks>
public sealed unsafe class InstanceLock : IDisposable
{
    private const int MaxRecordBytes = 4096;
    private int _fd;
    private readonly FileIdentity _identity;

    private InstanceLock(string path, int fd, FileIdentity identity)
    {
        LockPath = path;
        _fd = fd;
        _identity = identity;
    }

    /// <summary>The lock file.</summary>
    public string LockPath { get; }

    /// <summary>
    /// Takes the lock at <paramref name="lockPath"/> (created 0644, never through a symbolic link) and records this
    /// process in it; throws <see cref="InstanceLockedException"/> naming the holder when another has it.
    /// <paramref name="resource"/> names what the lock guards, for that message.
    /// </summary>
    public static InstanceLock Acquire(string lockPath, string? resource = null)
    {
        string what = resource is null ? $"the lock '{lockPath}'" : $"{resource} (lock '{lockPath}')";
        for (int attempt = 0; ; attempt++)
        {
            int fd = Posix.TryOpen(lockPath, O_RDWR | O_CREAT | O_NOFOLLOW, 0x1A4 /* 0644: anyone may read who holds it */);
            if (fd < 0) throw OpenFailed(lockPath, -fd);
            bool keep = false;
            try
            {
                stat st = Posix.FStat(fd, $"lock file '{lockPath}'");
                if (!S_ISREG(st.st_mode))
                    throw new SharedMemoryException($"lock file '{lockPath}' is {Posix.KindOf(st.st_mode)}, not a regular file; remove it");
                uint owner = st.st_uid, self = geteuid();
                if (owner != self && owner != 0)
                    throw new SharedMemoryException($"lock file '{lockPath}' is owned by uid {owner}, neither this user (uid {self}) nor root: that user could hold it forever; remove it");
                flock whole = default;
                whole.l_type = (short)F_WRLCK;
                whole.l_whence = (short)SEEK_SET; // l_start = l_len = 0: the whole file, however long it grows
                if (fcntl(fd, F_OFD_SETLK, &whole) != 0)
                {
                    int e = errno;
                    if (e == EAGAIN || e == EACCES) throw Held(lockPath, what, fd);
                    throw SharedMemoryException.FromErrno($"locking '{lockPath}' (F_OFD_SETLK)", e);
                }
                // A holder removes the file before it unlocks: the inode we locked may no longer be the lock. Try again.
                var identity = FileIdentity.Of(st);
                if (Posix.LStat(lockPath, out stat now) != 0 || FileIdentity.Of(now) != identity)
                {
                    if (attempt == 9) throw new SharedMemoryException($"lock file '{lockPath}' keeps being replaced while it is being taken");
                    continue;
                }
                Record(fd, lockPath);
                keep = true;
                return new InstanceLock(lockPath, fd, identity);
            }
            finally
            {
                if (!keep) close(fd);
            }
        }
    }

    private static SharedMemoryException OpenFailed(string path, int errno) =>
        errno == ELOOP
            ? new SharedMemoryException($"lock file '{path}' is a symbolic link; a lock is never taken through one: remove it", errno)
            : SharedMemoryException.FromErrno($"open lock file '{path}'", errno);

    private static void Record(int fd, string path)
    {
        byte[] record = Encoding.UTF8.GetBytes($"{Environment.ProcessId}\n{OwnCommandLine()}\n");
        Posix.Check(ftruncate(fd, 0), $"truncating lock file '{path}'");
        fixed (byte* p = record)
        {
            long n = pwrite(fd, p, (size_t)record.Length, 0);
            if (n != record.Length) throw SharedMemoryException.FromErrno($"writing the holder into lock file '{path}'", n < 0 ? errno : EIO);
        }
    }

    private static InstanceLockedException Held(string path, string what, int fd)
    {
        byte* buf = stackalloc byte[MaxRecordBytes];
        long n = pread(fd, buf, MaxRecordBytes, 0);
        string[] lines = n > 0 ? Encoding.UTF8.GetString(buf, (int)n).Split('\n') : [];
        int? pid = lines.Length > 0 && int.TryParse(lines[0], NumberStyles.None, CultureInfo.InvariantCulture, out int p) ? p : null;
        string? command = lines.Length > 1 && lines[1].Length > 0 ? Printable(lines[1]) : null;
        string holder = pid is null
            ? "a process that has not recorded itself yet (it is starting)"
            : $"pid {pid} ({command ?? "command line unknown"})";
        return new InstanceLockedException($"{what} is in use by another instance: {holder} holds it; stop that one first", path, pid, command);
    }

    // The record is ours or a peer's text: never let it put control characters into a log line.
    private static string Printable(string s)
    {
        var b = new StringBuilder(Math.Min(s.Length, 512));
        foreach (char c in s.AsSpan(0, Math.Min(s.Length, 512))) b.Append(char.IsControl(c) ? '?' : c);
        return b.ToString();
    }

    private static string OwnCommandLine()
    {
        try
        {
            byte[] raw = File.ReadAllBytes("/proc/self/cmdline");
            return Printable(Encoding.UTF8.GetString(raw).TrimEnd('\0').Replace('\0', ' '));
        }
        catch (IOException)
        {
            return Environment.ProcessPath ?? "unknown";
        }
    }

    /// <summary>Removes the lock file (if it is still this lock's) and releases the lock.</summary>
    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd < 0) return;
        // Remove before unlocking: whoever then locks the old inode sees that the path no longer names it.
        Posix.UnlinkIfSame(LockPath, _identity);
        close(fd);
    }

    /// <inheritdoc/>
    public override string ToString() => $"instance lock {LockPath}";
}

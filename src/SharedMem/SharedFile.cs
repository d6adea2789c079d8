using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace AmpCan.SharedMem;

/// <summary>
/// Opens or creates a shared-memory file by path the way a peer cannot exploit: never through a symbolic link,
/// created exclusively with exact permissions, and only when its owner is this user or root.
/// </summary>
internal static class SharedFile
{
    /// <summary>An open shared file: its descriptor, whether this open created it, and its identity.</summary>
    public readonly record struct Opened(int Fd, bool Created, FileIdentity Identity);

    public static Opened Open(string path, SharedFileOptions options)
    {
        switch (options.Creation)
        {
            case FileCreation.OpenExisting:
                return Existing(path, options);
            case FileCreation.CreateNew:
                return New(path, options);
            case FileCreation.ReplaceExisting:
                RemoveLeftover(path, options);
                return New(path, options);
            case FileCreation.CreateIfMissing:
                return NewOrExisting(path, options);
            default:
                throw new ArgumentOutOfRangeException(nameof(options), options.Creation, $"unknown way to come by '{path}'");
        }
    }

    private static Opened NewOrExisting(string path, SharedFileOptions options)
    {
        // Another process may create or remove the file between our two tries; a few rounds settle it.
        for (int attempt = 0; ; attempt++)
        {
            int fd = Posix.TryOpen(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0x180 /* 0600 until the mode is set */);
            if (fd >= 0) return Created(path, fd, options);
            if (-fd != EEXIST) throw OpenFailed(path, -fd);
            fd = Posix.TryOpen(path, O_RDWR | O_NOFOLLOW);
            if (fd >= 0) return Checked(path, fd, options);
            if (-fd != ENOENT || attempt == 3) throw OpenFailed(path, -fd);
        }
    }

    private static Opened Existing(string path, SharedFileOptions options)
    {
        int fd = Posix.TryOpen(path, O_RDWR | O_NOFOLLOW);
        if (fd < 0) throw OpenFailed(path, -fd);
        return Checked(path, fd, options);
    }

    private static Opened New(string path, SharedFileOptions options)
    {
        int fd = Posix.TryOpen(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0x180 /* 0600 until the mode is set */);
        if (fd == -EEXIST)
        {
            string what = Posix.LStat(path, out stat st) == 0 ? Posix.KindOf(st.st_mode) : "a file";
            throw new SharedMemoryException(
                $"cannot create '{path}': {what} already exists there (another instance may be using it, or one that stopped left it behind); " +
                "remove it, or replace it while holding the resource's instance lock", EEXIST);
        }
        if (fd < 0) throw OpenFailed(path, -fd);
        return Created(path, fd, options);
    }

    private static Opened Created(string path, int fd, SharedFileOptions options)
    {
        FileIdentity identity = default;
        try
        {
            identity = FileIdentity.Of(Posix.FStat(fd, $"'{path}'"));
            if (options.OwnerId is not null || options.GroupId is not null)
            {
                uint uid = options.OwnerId is int u ? (uint)u : uint.MaxValue, gid = options.GroupId is int g ? (uint)g : uint.MaxValue;
                Posix.Check(fchown(fd, uid, gid), $"chown '{path}' to owner {options.OwnerId?.ToString() ?? "(unchanged)"}, group {options.GroupId?.ToString() ?? "(unchanged)"}");
            }
            // open(2) applied the umask; the configured mode is what the caller asked for, exactly.
            Posix.Check(fchmod(fd, (mode_t)(ushort)options.Mode), $"chmod '{path}' to 0{Convert.ToString((int)options.Mode, 8)}");
            return new Opened(fd, true, identity);
        }
        catch
        {
            if (identity != default) Posix.UnlinkIfSame(path, identity);
            close(fd);
            throw;
        }
    }

    private static Opened Checked(string path, int fd, SharedFileOptions options)
    {
        try
        {
            stat st = Posix.FStat(fd, $"'{path}'");
            if (!S_ISREG(st.st_mode))
                throw new SharedMemoryException($"'{path}' is {Posix.KindOf(st.st_mode)}, not a regular file: refusing to map it as shared memory");
            RequireTrustedOwner(path, st, options);
            return new Opened(fd, false, FileIdentity.Of(st));
        }
        catch
        {
            close(fd);
            throw;
        }
    }

    private static void RequireTrustedOwner(string path, in stat st, SharedFileOptions options)
    {
        uint owner = st.st_uid, self = geteuid();
        if (owner == self || owner == 0 || options.AllowForeignOwner) return;
        throw new SharedMemoryException(
            $"'{path}' is owned by uid {owner}, which is neither this user (uid {self}) nor root: that user can rewrite or truncate " +
            $"the shared memory under this process; remove the file, chown it to uid {self}, or set AllowForeignOwner to map it anyway");
    }

    /// <summary>Removes what a previous instance left at <paramref name="path"/>: a regular file we may trust, nothing else.</summary>
    private static void RemoveLeftover(string path, SharedFileOptions options)
    {
        int rc = Posix.LStat(path, out stat st);
        if (rc == -ENOENT) return;
        if (rc < 0) throw SharedMemoryException.FromErrno($"lstat '{path}'", -rc);
        if (!S_ISREG(st.st_mode))
            throw new SharedMemoryException($"'{path}' is {Posix.KindOf(st.st_mode)}, not a shared-memory file left behind: refusing to replace it (remove it yourself)");
        RequireTrustedOwner(path, st, options);
        rc = Posix.Unlink(path);
        if (rc < 0 && rc != -ENOENT) throw SharedMemoryException.FromErrno($"removing the leftover '{path}'", -rc);
    }

    private static SharedMemoryException OpenFailed(string path, int errno) =>
        errno == ELOOP && Posix.LStat(path, out stat st) == 0 && S_ISLNK(st.st_mode)
            ? new SharedMemoryException($"'{path}' is a symbolic link: shared memory is never opened through one (a peer could aim it at any file of ours); remove it or name the file itself", errno)
            : SharedMemoryException.FromErrno($"open '{path}'", errno);
}

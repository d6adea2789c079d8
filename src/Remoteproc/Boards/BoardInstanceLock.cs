using AmpCan.SharedMem;

namespace AmpCan.Remoteproc.Boards;

/// <summary>
/// One host and one remote per board at a time. A second host would reset the rings under the first; a second remote
/// would zero the live shared file and take over the doorbell socket. The lock is per role, so a host and its remote
/// (AmpCan's remote-sim, or an in-process one) never exclude each other; a memfd board shares nothing and needs none.
/// </summary>
public static class BoardInstanceLock
{
    /// <summary>The role taking the lock.</summary>
    public enum Role
    {
        /// <summary>The host side (the service, echo-test, a benchmark).</summary>
        Host,
        /// <summary>The remote side (remote-sim, or the host's in-process simulated remote).</summary>
        Remote,
    }

    /// <summary>Where lock files go for boards whose memory is not a file (/dev/mem windows, UIO maps).</summary>
    public static string LockDirectory => Directory.Exists("/run/lock") ? "/run/lock" : Path.GetTempPath();

    /// <summary>
    /// Takes <paramref name="role"/>'s lock on the board's shared memory; null for a memfd board.
    /// </summary>
    /// <exception cref="InstanceLockedException">Another process holds it; the message names its pid and program.</exception>
    public static InstanceLock? Acquire(BoardDescriptor board, Role role)
    {
        SharedMemorySpec m = board.SharedMemory;
        string r = role == Role.Host ? "host" : "remote";
        (string? lockPath, string resource) = m.Kind switch
        {
            SharedMemoryKind.File => ($"{m.Path}.{r}.lock", m.Path!),
            SharedMemoryKind.DevMem => (Path.Combine(LockDirectory, $"ampcan-devmem-0x{m.PhysicalAddress:x}.{r}.lock"), $"/dev/mem at 0x{m.PhysicalAddress:x}"),
            SharedMemoryKind.Uio => (Path.Combine(LockDirectory, $"ampcan-uio{m.UioDevice}-map{m.UioMap}.{r}.lock"), $"/dev/uio{m.UioDevice} map {m.UioMap}"),
            _ => (null, ""),
        };
        return lockPath is null ? null : InstanceLock.Acquire(lockPath, $"the {r} of board '{board.Name}' ({resource})");
    }

    /// <summary>How a created shared file is made and who removes it, from the board.</summary>
    public static SharedFileOptions CreateFileOptions(SharedMemorySpec m) => new()
    {
        // Only while holding our role's lock: what is left at the path belongs to nobody alive.
        Creation = FileCreation.ReplaceExisting,
        Mode = m.ParsedFileMode ?? (UnixFileMode.UserRead | UnixFileMode.UserWrite),
        OwnerId = m.FileOwner,
        GroupId = m.FileGroup,
        RemoveOnDispose = true,
    };

    /// <summary>How a shared file another process created is opened, from the board.</summary>
    public static SharedFileOptions OpenFileOptions(SharedMemorySpec m) => new()
    {
        Creation = FileCreation.OpenExisting,
        AllowForeignOwner = m.AllowForeignOwner,
        RemoveOnDispose = false,
    };
}

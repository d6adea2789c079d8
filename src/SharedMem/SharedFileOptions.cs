namespace AmpCan.SharedMem;

/// <summary>How <see cref="MappedRegion.MapFile(string, ulong, SharedFileOptions, ulong, ulong)"/> comes by its file.</summary>
public enum FileCreation
{
    /// <summary>The file must exist (another process, or the hardware, provides it).</summary>
    OpenExisting,
    /// <summary>Create the file if nothing is there, else open the file that is (and grow it if it is too small).</summary>
    CreateIfMissing,
    /// <summary>Create the file; fail if anything exists at the path (another instance may be using it).</summary>
    CreateNew,
    /// <summary>
    /// Remove a regular file left at the path, then create it anew. Use it only while holding the resource's
    /// <see cref="InstanceLock"/>: the lock is what proves that the file left there belongs to nobody alive.
    /// </summary>
    ReplaceExisting,
}

/// <summary>How a shared-memory file is created, whom it must belong to, and who removes it.</summary>
/// <remarks>
/// Shared files are always opened with O_NOFOLLOW: a symbolic link at the path is refused, never followed (a peer
/// could otherwise point the path at a file of ours and have us overwrite it).
/// </remarks>
public sealed record SharedFileOptions
{
    /// <summary>Whether the file is created, and what happens when something is already at the path.</summary>
    public FileCreation Creation { get; init; } = FileCreation.OpenExisting;

    /// <summary>The permissions a created file gets, exactly (not reduced by the umask); owner read and write by default.</summary>
    public UnixFileMode Mode { get; init; } = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>The user id a created file is given (needs privilege to differ from ours); null keeps ours.</summary>
    public int? OwnerId { get; init; }

    /// <summary>The group id a created file is given (one of ours, or any with privilege); null keeps ours.</summary>
    public int? GroupId { get; init; }

    /// <summary>
    /// Map an existing file that neither this user nor root owns. Its owner can rewrite or truncate the shared memory
    /// at will, so this is refused unless asked for.
    /// </summary>
    public bool AllowForeignOwner { get; init; }

    /// <summary>Remove the file when the region is disposed, if this region created it and the path still names it.</summary>
    public bool RemoveOnDispose { get; init; } = true;
}

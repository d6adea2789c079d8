namespace AmpCan.SharedMem;

/// <summary>The seals of a memfd or tmpfs file (fcntl F_GET_SEALS): changes that nobody can make to it any more.</summary>
/// <remarks>Values from include/uapi/linux/fcntl.h.</remarks>
[Flags]
public enum FileSeals
{
    /// <summary>No seal: anyone who can write the file can also resize it.</summary>
    None = 0,
    /// <summary>F_SEAL_SEAL: the set of seals itself is final.</summary>
    Seal = 0x1,
    /// <summary>F_SEAL_SHRINK: the file can no longer be made smaller (so a mapping of it cannot lose its pages).</summary>
    Shrink = 0x2,
    /// <summary>F_SEAL_GROW: the file can no longer be made larger.</summary>
    Grow = 0x4,
    /// <summary>F_SEAL_WRITE: the contents can no longer be written.</summary>
    Write = 0x8,
    /// <summary>F_SEAL_FUTURE_WRITE: no new writable mapping or write may be made.</summary>
    FutureWrite = 0x10,
}

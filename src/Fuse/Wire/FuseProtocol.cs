namespace AmpCan.Fuse.Wire;

// Every number and layout in this folder is taken from include/uapi/linux/fuse.h of Linux v6.1 (Debian 12's kernel,
// FUSE_KERNEL_MINOR_VERSION 37) and checked against current kernels (v6.18 offers 7.45): the structures used here
// only ever grew at their ends or renamed padding since 7.31. All fields are little-endian on the machines we run
// on (the kernel writes host order; CUSE_INIT_BSWAP_RESERVED exists to detect the opposite, which we refuse).

/// <summary>The protocol version this server speaks and the oldest kernel version it accepts.</summary>
public static class FuseProtocol
{
    /// <summary>FUSE_KERNEL_VERSION: the only major version there is.</summary>
    public const uint Major = 7;

    /// <summary>
    /// The minor version we answer at most: 7.38 is what was checked against a 7.45 kernel, and nothing we use
    /// changed after it. We answer min(kernel's, this), so an older kernel keeps its own layouts.
    /// </summary>
    public const uint Minor = 38;

    /// <summary>
    /// The oldest kernel minor we accept: 7.31 has FOPEN_STREAM (needed so reads and writes on one file do not
    /// serialise on the file position), FUSE_MAX_PAGES (7.28) and the 40-byte read/write requests.
    /// </summary>
    public const uint MinimumMinor = 31;

    /// <summary>FUSE_ROOT_ID: the node id of the mount's root directory.</summary>
    public const ulong RootId = 1;

    /// <summary>FUSE_MIN_READ_BUFFER: the smallest read buffer the kernel accepts on the device.</summary>
    public const int MinReadBuffer = 8192;
}

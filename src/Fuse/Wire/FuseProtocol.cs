namespace AmpCan.Fuse.Wire;

// Every number and layout in this folder follows include/uapi/linux/fuse.h. Read for this: torvalds/linux at
// 031616c434db (protocol 7.32, the v5.10 era), which has every structure used here. The later additions are the ones
// Linux v6.1 (Debian 12's kernel, 7.37) and v6.18 (7.45, this machine) carry: fuse_init_in grew to 64 bytes with
// flags2 (7.36), fuse_init_out's flags2 (7.36), fuse_open_in's open_flags (7.36) and fuse_in_header's total_extlen
// (7.38). Each of them renamed padding or grew a structure at its end. The mounted tests run against the 6.18 kernel.
// Fields are in host order, little-endian on every machine we run on (the kernel reserves *_INIT_BSWAP_RESERVED
// opcodes to detect the opposite).

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

    /// <summary>
    /// FUSE_DEFAULT_MAX_PAGES_PER_REQ (fs/fuse/fuse_i.h): pages per request when INIT did not agree FUSE_MAX_PAGES, and
    /// always for CUSE, whose INIT has no such field.
    /// </summary>
    public const int DefaultMaxPages = 32;

    /// <summary>FUSE_MIN_READ_BUFFER: the smallest read buffer the kernel accepts on the device.</summary>
    public const int MinReadBuffer = 8192;
}

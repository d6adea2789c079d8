using System.Buffers.Binary;

namespace AmpCan.Fuse.Wire;

/// <summary>
/// <c>struct fuse_release_in</c> (24 bytes): u64 fh @0, u32 flags @8 (open(2) flags), u32 release_flags @12,
/// u64 lock_owner @16.
/// </summary>
/// <param name="FileHandle">The open file's handle.</param>
/// <param name="Flags">The open file's flags.</param>
/// <param name="ReleaseFlags">FUSE_RELEASE_* flags.</param>
/// <param name="LockOwner">Lock owner id.</param>
public readonly record struct FuseReleaseIn(ulong FileHandle, uint Flags, uint ReleaseFlags, ulong LockOwner)
{
    /// <summary>Bytes in the request body.</summary>
    public const int Size = 24;

    /// <summary>Reads the 24 wire bytes.</summary>
    public static FuseReleaseIn Read(ReadOnlySpan<byte> b) => new(
        BinaryPrimitives.ReadUInt64LittleEndian(b),
        BinaryPrimitives.ReadUInt32LittleEndian(b[8..]),
        BinaryPrimitives.ReadUInt32LittleEndian(b[12..]),
        BinaryPrimitives.ReadUInt64LittleEndian(b[16..Size]));
}

using System.Buffers.Binary;

namespace AmpCan.Fuse.Wire;

/// <summary><c>struct fuse_flush_in</c> (24 bytes): u64 fh @0, u32 unused @8, u32 padding @12, u64 lock_owner @16.</summary>
/// <param name="FileHandle">The open file's handle.</param>
/// <param name="LockOwner">Lock owner id (identifies the closing descriptor table).</param>
public readonly record struct FuseFlushIn(ulong FileHandle, ulong LockOwner)
{
    /// <summary>Bytes in the request body.</summary>
    public const int Size = 24;

    /// <summary>Reads the 24 wire bytes.</summary>
    public static FuseFlushIn Read(ReadOnlySpan<byte> b) => new(
        BinaryPrimitives.ReadUInt64LittleEndian(b),
        BinaryPrimitives.ReadUInt64LittleEndian(b[16..Size]));
}

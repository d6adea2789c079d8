using System.Buffers.Binary;

namespace AmpCan.Fuse.Wire;

/// <summary>
/// <c>struct fuse_read_in</c> (40 bytes): u64 fh @0, u64 offset @8, u32 size @16, u32 read_flags @20,
/// u64 lock_owner @24, u32 flags @32 (the file's open(2) flags, O_NONBLOCK included), u32 padding @36.
/// </summary>
/// <param name="FileHandle">The open file's handle.</param>
/// <param name="Offset">File offset (meaningless for stream files).</param>
/// <param name="Size">Bytes the caller asked for.</param>
/// <param name="ReadFlags">FUSE_READ_* flags.</param>
/// <param name="Flags">The open file's current flags.</param>
public readonly record struct FuseReadIn(ulong FileHandle, ulong Offset, uint Size, uint ReadFlags, uint Flags)
{
    /// <summary>Bytes in the request body.</summary>
    public const int WireSize = 40;

    /// <summary>Reads the 40 wire bytes.</summary>
    public static FuseReadIn Read(ReadOnlySpan<byte> b) => new(
        BinaryPrimitives.ReadUInt64LittleEndian(b),
        BinaryPrimitives.ReadUInt64LittleEndian(b[8..]),
        BinaryPrimitives.ReadUInt32LittleEndian(b[16..]),
        BinaryPrimitives.ReadUInt32LittleEndian(b[20..]),
        BinaryPrimitives.ReadUInt32LittleEndian(b[32..WireSize]));
}

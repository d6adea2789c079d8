using System.Buffers.Binary;

namespace AmpCan.Fuse.Wire;

/// <summary>
/// <c>struct fuse_write_in</c> (40 bytes, then size data bytes): u64 fh @0, u64 offset @8, u32 size @16,
/// u32 write_flags @20, u64 lock_owner @24, u32 flags @32 (open(2) flags), u32 padding @36.
/// </summary>
/// <param name="FileHandle">The open file's handle.</param>
/// <param name="Offset">File offset (meaningless for stream files).</param>
/// <param name="Size">Data bytes that follow.</param>
/// <param name="WriteFlags">FUSE_WRITE_* flags.</param>
/// <param name="Flags">The open file's current flags.</param>
public readonly record struct FuseWriteIn(ulong FileHandle, ulong Offset, uint Size, uint WriteFlags, uint Flags)
{
    /// <summary>Bytes in the fixed part of the request body.</summary>
    public const int WireSize = 40;

    /// <summary>Reads the 40 wire bytes.</summary>
    public static FuseWriteIn Read(ReadOnlySpan<byte> b) => new(
        BinaryPrimitives.ReadUInt64LittleEndian(b),
        BinaryPrimitives.ReadUInt64LittleEndian(b[8..]),
        BinaryPrimitives.ReadUInt32LittleEndian(b[16..]),
        BinaryPrimitives.ReadUInt32LittleEndian(b[20..]),
        BinaryPrimitives.ReadUInt32LittleEndian(b[32..WireSize]));
}

/// <summary><c>struct fuse_write_out</c> (8 bytes): u32 size @0, u32 padding @4.</summary>
/// <param name="Size">Bytes taken.</param>
public readonly record struct FuseWriteOut(uint Size)
{
    /// <summary>Bytes in the reply body.</summary>
    public const int WireSize = 8;

    /// <summary>Writes the 8 wire bytes.</summary>
    public void Write(Span<byte> b)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(b, Size);
        BinaryPrimitives.WriteUInt32LittleEndian(b[4..WireSize], 0);
    }
}

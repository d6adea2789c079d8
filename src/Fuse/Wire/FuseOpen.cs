using System.Buffers.Binary;

namespace AmpCan.Fuse.Wire;

/// <summary><c>struct fuse_open_in</c> (8 bytes): u32 flags @0 (open(2) flags), u32 open_flags @4 (7.36; unused before).</summary>
/// <param name="Flags">The caller's open(2) flags (O_ACCMODE, O_NONBLOCK...).</param>
/// <param name="OpenFlags">FUSE_OPEN_* flags (7.36+), else 0.</param>
public readonly record struct FuseOpenIn(uint Flags, uint OpenFlags)
{
    /// <summary>Bytes in the request body.</summary>
    public const int Size = 8;

    /// <summary>Reads the 8 wire bytes.</summary>
    public static FuseOpenIn Read(ReadOnlySpan<byte> b) => new(
        BinaryPrimitives.ReadUInt32LittleEndian(b),
        BinaryPrimitives.ReadUInt32LittleEndian(b[4..Size]));
}

/// <summary><c>struct fuse_open_out</c> (16 bytes): u64 fh @0, u32 open_flags @8, u32 padding @12 (backing_id from 7.40).</summary>
/// <param name="FileHandle">The server's handle, passed back in every request on this open file.</param>
/// <param name="OpenFlags">FOPEN_* flags (<see cref="FuseOpenFlags"/>).</param>
public readonly record struct FuseOpenOut(ulong FileHandle, uint OpenFlags)
{
    /// <summary>Bytes in the reply body.</summary>
    public const int Size = 16;

    /// <summary>Writes the 16 wire bytes.</summary>
    public void Write(Span<byte> b)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(b, FileHandle);
        BinaryPrimitives.WriteUInt32LittleEndian(b[8..], OpenFlags);
        BinaryPrimitives.WriteUInt32LittleEndian(b[12..Size], 0);
    }
}

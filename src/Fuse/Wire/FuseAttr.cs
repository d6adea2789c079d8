using System.Buffers.Binary;

namespace AmpCan.Fuse.Wire;

/// <summary>
/// <c>struct fuse_attr</c> (88 bytes): u64 ino @0, size @8, blocks @16, atime @24, mtime @32, ctime @40;
/// u32 atimensec @48, mtimensec @52, ctimensec @56, mode @60, nlink @64, uid @68, gid @72, rdev @76, blksize @80,
/// flags @84.
/// </summary>
/// <param name="Inode">Inode number.</param>
/// <param name="Size">File size in bytes.</param>
/// <param name="Mode">st_mode: type and permission bits.</param>
/// <param name="LinkCount">st_nlink.</param>
/// <param name="Uid">Owner.</param>
/// <param name="Gid">Group.</param>
/// <param name="TimeSeconds">atime, mtime and ctime (seconds since the epoch).</param>
public readonly record struct FuseAttr(ulong Inode, ulong Size, uint Mode, uint LinkCount, uint Uid, uint Gid, ulong TimeSeconds)
{
    /// <summary>Bytes on the wire.</summary>
    public const int WireSize = 88;

    /// <summary>Writes the 88 wire bytes (blocks, nanoseconds, rdev, blksize and flags zeroed).</summary>
    public void Write(Span<byte> b)
    {
        b[..WireSize].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(b, Inode);
        BinaryPrimitives.WriteUInt64LittleEndian(b[8..], Size);
        BinaryPrimitives.WriteUInt64LittleEndian(b[24..], TimeSeconds);
        BinaryPrimitives.WriteUInt64LittleEndian(b[32..], TimeSeconds);
        BinaryPrimitives.WriteUInt64LittleEndian(b[40..], TimeSeconds);
        BinaryPrimitives.WriteUInt32LittleEndian(b[60..], Mode);
        BinaryPrimitives.WriteUInt32LittleEndian(b[64..], LinkCount);
        BinaryPrimitives.WriteUInt32LittleEndian(b[68..], Uid);
        BinaryPrimitives.WriteUInt32LittleEndian(b[72..], Gid);
    }
}

/// <summary>
/// <c>struct fuse_attr_out</c> (104 bytes): u64 attr_valid @0, u32 attr_valid_nsec @8, u32 dummy @12,
/// fuse_attr attr @16.
/// </summary>
/// <param name="ValidSeconds">How long the kernel may cache the attributes.</param>
/// <param name="Attr">The attributes.</param>
public readonly record struct FuseAttrOut(ulong ValidSeconds, FuseAttr Attr)
{
    /// <summary>Bytes in the reply body.</summary>
    public const int Size = 16 + FuseAttr.WireSize;

    /// <summary>Writes the 104 wire bytes.</summary>
    public void Write(Span<byte> b)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(b, ValidSeconds);
        BinaryPrimitives.WriteUInt64LittleEndian(b[8..], 0); // attr_valid_nsec and dummy
        Attr.Write(b[16..Size]);
    }
}

/// <summary>
/// <c>struct fuse_entry_out</c> (128 bytes): u64 nodeid @0, u64 generation @8, u64 entry_valid @16,
/// u64 attr_valid @24, u32 entry_valid_nsec @32, u32 attr_valid_nsec @36, fuse_attr attr @40.
/// </summary>
/// <param name="NodeId">The node id the kernel uses for this name from now on.</param>
/// <param name="Generation">Generation of the node id (0 unless ids are reused).</param>
/// <param name="EntryValidSeconds">How long the kernel may cache the name.</param>
/// <param name="AttrValidSeconds">How long the kernel may cache the attributes.</param>
/// <param name="Attr">The attributes.</param>
public readonly record struct FuseEntryOut(ulong NodeId, ulong Generation, ulong EntryValidSeconds, ulong AttrValidSeconds, FuseAttr Attr)
{
    /// <summary>Bytes in the reply body.</summary>
    public const int Size = 40 + FuseAttr.WireSize;

    /// <summary>Writes the 128 wire bytes.</summary>
    public void Write(Span<byte> b)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(b, NodeId);
        BinaryPrimitives.WriteUInt64LittleEndian(b[8..], Generation);
        BinaryPrimitives.WriteUInt64LittleEndian(b[16..], EntryValidSeconds);
        BinaryPrimitives.WriteUInt64LittleEndian(b[24..], AttrValidSeconds);
        BinaryPrimitives.WriteUInt64LittleEndian(b[32..], 0); // the two nanosecond fields
        Attr.Write(b[40..Size]);
    }
}

/// <summary><c>struct fuse_getattr_in</c> (16 bytes): u32 getattr_flags @0, u32 dummy @4, u64 fh @8.</summary>
/// <param name="Flags">FUSE_GETATTR_FH when <paramref name="FileHandle"/> is valid.</param>
/// <param name="FileHandle">The open file's handle (fstat).</param>
public readonly record struct FuseGetAttrIn(uint Flags, ulong FileHandle)
{
    /// <summary>Bytes in the request body.</summary>
    public const int Size = 16;

    /// <summary>Reads the 16 wire bytes.</summary>
    public static FuseGetAttrIn Read(ReadOnlySpan<byte> b) => new(
        BinaryPrimitives.ReadUInt32LittleEndian(b),
        BinaryPrimitives.ReadUInt64LittleEndian(b[8..Size]));
}

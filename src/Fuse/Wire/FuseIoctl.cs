using System.Buffers.Binary;

namespace AmpCan.Fuse.Wire;

/// <summary>
/// <c>struct fuse_ioctl_in</c> (32 bytes, then in_size bytes): u64 fh @0, u32 flags @8, u32 cmd @12, u64 arg @16,
/// u32 in_size @24, u32 out_size @28.
/// </summary>
/// <param name="FileHandle">The open file's handle.</param>
/// <param name="Flags">FUSE_IOCTL_* flags.</param>
/// <param name="Command">The ioctl request number.</param>
/// <param name="Argument">The caller's raw argument (a user address for pointer ioctls).</param>
/// <param name="InSize">Input bytes that follow (from _IOC_WRITE and _IOC_SIZE, or a retry's iovecs).</param>
/// <param name="OutSize">Output bytes the caller's buffer takes.</param>
public readonly record struct FuseIoctlIn(ulong FileHandle, uint Flags, uint Command, ulong Argument, uint InSize, uint OutSize)
{
    /// <summary>Bytes in the fixed part of the request body.</summary>
    public const int Size = 32;

    /// <summary>Reads the 32 wire bytes.</summary>
    public static FuseIoctlIn Read(ReadOnlySpan<byte> b) => new(
        BinaryPrimitives.ReadUInt64LittleEndian(b),
        BinaryPrimitives.ReadUInt32LittleEndian(b[8..]),
        BinaryPrimitives.ReadUInt32LittleEndian(b[12..]),
        BinaryPrimitives.ReadUInt64LittleEndian(b[16..]),
        BinaryPrimitives.ReadUInt32LittleEndian(b[24..]),
        BinaryPrimitives.ReadUInt32LittleEndian(b[28..Size]));
}

/// <summary>
/// <c>struct fuse_ioctl_out</c> (16 bytes, then output bytes or, with FUSE_IOCTL_RETRY, the iovecs):
/// i32 result @0, u32 flags @4, u32 in_iovs @8, u32 out_iovs @12.
/// </summary>
/// <param name="Result">ioctl(2)'s return value for the caller.</param>
/// <param name="Flags">FUSE_IOCTL_RETRY to ask for a resend with the iovecs that follow.</param>
/// <param name="InIovecs">Input iovecs that follow (retry).</param>
/// <param name="OutIovecs">Output iovecs that follow the input ones (retry).</param>
public readonly record struct FuseIoctlOut(int Result, uint Flags, uint InIovecs, uint OutIovecs)
{
    /// <summary>Bytes in the fixed part of the reply.</summary>
    public const int Size = 16;

    /// <summary>Writes the 16 wire bytes.</summary>
    public void Write(Span<byte> b)
    {
        BinaryPrimitives.WriteInt32LittleEndian(b, Result);
        BinaryPrimitives.WriteUInt32LittleEndian(b[4..], Flags);
        BinaryPrimitives.WriteUInt32LittleEndian(b[8..], InIovecs);
        BinaryPrimitives.WriteUInt32LittleEndian(b[12..Size], OutIovecs);
    }
}

/// <summary><c>struct fuse_ioctl_iovec</c> (16 bytes): u64 base @0, u64 len @8, a caller buffer a retry names.</summary>
/// <param name="Base">The address in the caller's memory.</param>
/// <param name="Length">Bytes.</param>
public readonly record struct FuseIoctlIovec(ulong Base, ulong Length)
{
    /// <summary>Bytes in one iovec.</summary>
    public const int Size = 16;

    /// <summary>Writes the 16 wire bytes.</summary>
    public void Write(Span<byte> b)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(b, Base);
        BinaryPrimitives.WriteUInt64LittleEndian(b[8..Size], Length);
    }
}

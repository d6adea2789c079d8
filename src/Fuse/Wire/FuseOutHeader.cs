using System.Buffers.Binary;

namespace AmpCan.Fuse.Wire;

/// <summary>
/// <c>struct fuse_out_header</c> (16 bytes): u32 len @0, i32 error @4 (0 or -errno; a notify code when unique is 0),
/// u64 unique @8.
/// </summary>
/// <param name="Length">Bytes of the whole reply, header included.</param>
/// <param name="Error">0, a negative errno, or for a notification (unique 0) the positive notify code.</param>
/// <param name="Unique">The request answered; 0 for a notification.</param>
public readonly record struct FuseOutHeader(uint Length, int Error, ulong Unique)
{
    /// <summary>Bytes in the header.</summary>
    public const int Size = 16;

    /// <summary>Reads the header from its 16 wire bytes.</summary>
    public static FuseOutHeader Read(ReadOnlySpan<byte> b) => new(
        BinaryPrimitives.ReadUInt32LittleEndian(b),
        BinaryPrimitives.ReadInt32LittleEndian(b[4..]),
        BinaryPrimitives.ReadUInt64LittleEndian(b[8..Size]));

    /// <summary>Writes the 16 wire bytes.</summary>
    public void Write(Span<byte> b)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(b, Length);
        BinaryPrimitives.WriteInt32LittleEndian(b[4..], Error);
        BinaryPrimitives.WriteUInt64LittleEndian(b[8..Size], Unique);
    }
}

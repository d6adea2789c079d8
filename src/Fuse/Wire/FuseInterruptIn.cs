using System.Buffers.Binary;

namespace AmpCan.Fuse.Wire;

/// <summary><c>struct fuse_interrupt_in</c> (8 bytes): u64 unique @0, the request whose caller got a signal.</summary>
/// <param name="Unique">The interrupted request.</param>
public readonly record struct FuseInterruptIn(ulong Unique)
{
    /// <summary>Bytes in the request body.</summary>
    public const int Size = 8;

    /// <summary>Reads the 8 wire bytes.</summary>
    public static FuseInterruptIn Read(ReadOnlySpan<byte> b) => new(BinaryPrimitives.ReadUInt64LittleEndian(b[..Size]));
}

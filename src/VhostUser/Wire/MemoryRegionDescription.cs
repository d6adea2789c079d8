using System.Buffers.Binary;

namespace AmpCan.VhostUser.Wire;

/// <summary>
/// One region of a memory regions description: u64 guest address @0, u64 size @8, u64 user address @16,
/// u64 mmap offset @24; 32 bytes.
/// </summary>
/// <param name="GuestAddress">Guest-physical address of the first byte (what descriptors name).</param>
/// <param name="Size">Bytes in the region.</param>
/// <param name="UserAddress">The front end's virtual address of the first byte (what ring addresses name).</param>
/// <param name="MmapOffset">Where the region starts in the file descriptor sent with it.</param>
public readonly record struct MemoryRegionDescription(ulong GuestAddress, ulong Size, ulong UserAddress, ulong MmapOffset)
{
    /// <summary>Bytes on the wire.</summary>
    public const int Length = 32;

    /// <summary>Reads the 32 wire bytes.</summary>
    public static MemoryRegionDescription Read(ReadOnlySpan<byte> bytes) => new(
        BinaryPrimitives.ReadUInt64LittleEndian(bytes),
        BinaryPrimitives.ReadUInt64LittleEndian(bytes[8..]),
        BinaryPrimitives.ReadUInt64LittleEndian(bytes[16..]),
        BinaryPrimitives.ReadUInt64LittleEndian(bytes[24..]));

    /// <summary>Writes the 32 wire bytes.</summary>
    public void Write(Span<byte> bytes)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, GuestAddress);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes[8..], Size);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes[16..], UserAddress);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes[24..], MmapOffset);
    }
}

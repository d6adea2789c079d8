using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace AmpCan.Vring.Wire;

/// <summary>
/// <c>struct virtq_desc</c>: le64 addr @0, le32 len @8, le16 flags @12, le16 next @14; 16 bytes. Fields hold the
/// little-endian wire values; the properties convert.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
public readonly struct VirtqDescriptor
{
    /// <summary>Bytes per descriptor.</summary>
    public const int Size = 16;

    [FieldOffset(0)] private readonly ulong _addr;
    [FieldOffset(8)] private readonly uint _len;
    [FieldOffset(12)] private readonly ushort _flags;
    [FieldOffset(14)] private readonly ushort _next;

    /// <summary>Creates a descriptor from host-order values.</summary>
    public VirtqDescriptor(ulong address, uint length, VirtqDescFlags flags, ushort next)
    {
        _addr = Le(address);
        _len = Le(length);
        _flags = Le((ushort)flags);
        _next = Le(next);
    }

    /// <summary>Device address of the buffer.</summary>
    public ulong Address => Le(_addr);

    /// <summary>Length of the buffer in bytes.</summary>
    public uint Length => Le(_len);

    /// <summary>Flags.</summary>
    public VirtqDescFlags Flags => (VirtqDescFlags)Le(_flags);

    /// <summary>Index of the next descriptor when <see cref="VirtqDescFlags.Next"/> is set.</summary>
    public ushort Next => Le(_next);

    /// <summary>Reads a descriptor from its 16 wire bytes.</summary>
    public static VirtqDescriptor Read(ReadOnlySpan<byte> bytes) => new(
        BinaryPrimitives.ReadUInt64LittleEndian(bytes),
        BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]),
        (VirtqDescFlags)BinaryPrimitives.ReadUInt16LittleEndian(bytes[12..]),
        BinaryPrimitives.ReadUInt16LittleEndian(bytes[14..]));

    /// <summary>Writes the 16 wire bytes.</summary>
    public void Write(Span<byte> bytes)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, Address);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes[8..], Length);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes[12..], (ushort)Flags);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes[14..], Next);
    }

    private static ulong Le(ulong v) => BitConverter.IsLittleEndian ? v : BinaryPrimitives.ReverseEndianness(v);
    private static uint Le(uint v) => BitConverter.IsLittleEndian ? v : BinaryPrimitives.ReverseEndianness(v);
    private static ushort Le(ushort v) => BitConverter.IsLittleEndian ? v : BinaryPrimitives.ReverseEndianness(v);

    /// <inheritdoc/>
    public override string ToString() => $"desc(0x{Address:x}, {Length}, {Flags}, next {Next})";
}

using System.Buffers.Binary;

namespace AmpCan.VhostUser.Wire;

/// <summary>A vring state description: u32 index @0, u32 num @4; 8 bytes (SET_VRING_NUM/BASE/ENABLE, GET_VRING_BASE).</summary>
/// <param name="Index">The queue index.</param>
/// <param name="Num">The size, base index or enable flag, by request.</param>
public readonly record struct VringState(uint Index, uint Num)
{
    /// <summary>Bytes on the wire.</summary>
    public const int Length = 8;

    /// <summary>Reads the 8 wire bytes.</summary>
    public static VringState Read(ReadOnlySpan<byte> bytes) =>
        new(BinaryPrimitives.ReadUInt32LittleEndian(bytes), BinaryPrimitives.ReadUInt32LittleEndian(bytes[4..]));

    /// <summary>Writes the 8 wire bytes.</summary>
    public void Write(Span<byte> bytes)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, Index);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes[4..], Num);
    }
}

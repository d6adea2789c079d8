using System.Buffers.Binary;

namespace AmpCan.VhostUser.Wire;

/// <summary>
/// A vring address description (SET_VRING_ADDR): u32 index @0, u32 flags @4, u64 descriptor @8, u64 used @16,
/// u64 available @24, u64 log @32; 40 bytes. The "size" column of vhost-user.rst's table has no field on the wire
/// (QEMU sends <c>struct vhost_vring_addr</c>). The three ring addresses are front-end virtual addresses.
/// </summary>
/// <param name="Index">The queue index.</param>
/// <param name="Flags">VHOST_VRING_F_LOG (bit 0) asks for used-ring logging (migration; not offered).</param>
/// <param name="Descriptors">Front-end virtual address of the descriptor table.</param>
/// <param name="Used">Front-end virtual address of the used ring.</param>
/// <param name="Available">Front-end virtual address of the available ring.</param>
/// <param name="Log">Guest address for logging.</param>
public readonly record struct VringAddress(uint Index, uint Flags, ulong Descriptors, ulong Used, ulong Available, ulong Log)
{
    /// <summary>Bytes on the wire.</summary>
    public const int Length = 40;

    /// <summary>Reads the 40 wire bytes.</summary>
    public static VringAddress Read(ReadOnlySpan<byte> bytes) => new(
        BinaryPrimitives.ReadUInt32LittleEndian(bytes),
        BinaryPrimitives.ReadUInt32LittleEndian(bytes[4..]),
        BinaryPrimitives.ReadUInt64LittleEndian(bytes[8..]),
        BinaryPrimitives.ReadUInt64LittleEndian(bytes[16..]),
        BinaryPrimitives.ReadUInt64LittleEndian(bytes[24..]),
        BinaryPrimitives.ReadUInt64LittleEndian(bytes[32..]));

    /// <summary>Writes the 40 wire bytes.</summary>
    public void Write(Span<byte> bytes)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, Index);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes[4..], Flags);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes[8..], Descriptors);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes[16..], Used);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes[24..], Available);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes[32..], Log);
    }
}

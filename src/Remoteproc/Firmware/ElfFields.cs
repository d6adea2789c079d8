using System.Buffers.Binary;

namespace AmpCan.Remoteproc.Firmware;

/// <summary>
/// Little-endian field reads over one header of either class: <see cref="Word"/> is a u32 in ELF32 and a u64 in ELF64.
/// The caller has checked that the header lies inside the file, so a read past it is a defect here, not hostile input.
/// </summary>
internal readonly ref struct ElfFields(ReadOnlySpan<byte> header, ElfClass elfClass)
{
    private readonly ReadOnlySpan<byte> _header = header;

    public bool Is64 => elfClass == ElfClass.Elf64;

    public ushort U16(int offset) => BinaryPrimitives.ReadUInt16LittleEndian(_header[offset..]);

    public uint U32(int offset) => BinaryPrimitives.ReadUInt32LittleEndian(_header[offset..]);

    /// <summary>An address, offset or size: u32 at <paramref name="offset32"/> in ELF32, u64 at <paramref name="offset64"/> in ELF64.</summary>
    public ulong Word(int offset32, int offset64) =>
        Is64 ? BinaryPrimitives.ReadUInt64LittleEndian(_header[offset64..]) : BinaryPrimitives.ReadUInt32LittleEndian(_header[offset32..]);
}

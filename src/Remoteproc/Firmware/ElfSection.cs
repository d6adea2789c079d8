using AmpCan.Remoteproc.Firmware.Wire;

namespace AmpCan.Remoteproc.Firmware;

/// <summary>One section header with its name, validated against the file (its bytes are inside it unless SHT_NOBITS or SHT_NULL).</summary>
/// <param name="Index">Position in the section header table.</param>
/// <param name="Name">The name from the section-name string table (empty when the file has none).</param>
/// <param name="Type">sh_type (SHT_PROGBITS 1, SHT_STRTAB 3, SHT_NOBITS 8, ...).</param>
/// <param name="Flags">sh_flags (SHF_WRITE 1, SHF_ALLOC 2, SHF_EXECINSTR 4).</param>
/// <param name="Address">sh_addr: where the section is in the remote's address space (remoteproc treats it as a device address).</param>
/// <param name="Offset">sh_offset: where its bytes are in the file.</param>
/// <param name="Size">sh_size.</param>
public sealed record ElfSection(int Index, string Name, uint Type, ulong Flags, ulong Address, ulong Offset, ulong Size)
{
    /// <summary>True when the section takes bytes from the file (not SHT_NOBITS or SHT_NULL).</summary>
    public bool HasFileBytes => Type is not (ElfLayout.SectionNoBits or ElfLayout.SectionNull);
}

using AmpCan.Remoteproc.Firmware.Wire;

namespace AmpCan.Remoteproc.Firmware;

/// <summary>EI_CLASS: the width of addresses and offsets in the file (the values are the byte in e_ident).</summary>
public enum ElfClass : byte
{
    /// <summary>ELFCLASS32: 32-bit addresses, offsets and sizes.</summary>
    Elf32 = ElfLayout.Class32,
    /// <summary>ELFCLASS64: 64-bit addresses, offsets and sizes.</summary>
    Elf64 = ElfLayout.Class64,
}

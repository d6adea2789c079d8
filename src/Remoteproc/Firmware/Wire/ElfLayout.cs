namespace AmpCan.Remoteproc.Firmware.Wire;

/// <summary>
/// Byte offsets and constants of the ELF file header, program header and section header, for both classes (System V
/// gABI; Linux include/uapi/linux/elf.h). All fields are little-endian in the images AmpCan accepts.
/// <code>
/// e_ident[16] { 0x7f 'E' 'L' 'F'; EI_CLASS @4; EI_DATA @5; EI_VERSION @6; EI_OSABI @7; pad }
/// Elf32_Ehdr  { ident @0; type u16 @16; machine u16 @18; version u32 @20; entry u32 @24; phoff u32 @28; shoff u32 @32;
///               flags u32 @36; ehsize u16 @40; phentsize u16 @42; phnum u16 @44; shentsize u16 @46; shnum u16 @48;
///               shstrndx u16 @50 }                                                                           52 bytes
/// Elf64_Ehdr  { ident @0; type u16 @16; machine u16 @18; version u32 @20; entry u64 @24; phoff u64 @32; shoff u64 @40;
///               flags u32 @48; ehsize u16 @52; phentsize u16 @54; phnum u16 @56; shentsize u16 @58; shnum u16 @60;
///               shstrndx u16 @62 }                                                                           64 bytes
/// Elf32_Phdr  { type @0; offset @4; vaddr @8; paddr @12; filesz @16; memsz @20; flags @24; align @28 }  32 bytes, all u32
/// Elf64_Phdr  { type u32 @0; flags u32 @4; offset @8; vaddr @16; paddr @24; filesz @32; memsz @40; align @48 }  56 bytes
/// Elf32_Shdr  { name @0; type @4; flags @8; addr @12; offset @16; size @20; link @24; info @28; addralign @32;
///               entsize @36 }                                                                     40 bytes, all u32
/// Elf64_Shdr  { name u32 @0; type u32 @4; flags u64 @8; addr u64 @16; offset u64 @24; size u64 @32; link u32 @40;
///               info u32 @44; addralign u64 @48; entsize u64 @56 }                                        64 bytes
/// </code>
/// </summary>
public static class ElfLayout
{
    /// <summary>The four magic bytes at the start of every ELF file (ELFMAG).</summary>
    public static ReadOnlySpan<byte> Magic => [0x7F, (byte)'E', (byte)'L', (byte)'F'];

    /// <summary>Size of e_ident (EI_NIDENT).</summary>
    public const int IdentSize = 16;

    /// <summary>Offsets inside e_ident.</summary>
    public const int IdentClass = 4, IdentData = 5, IdentVersion = 6, IdentOsAbi = 7;

    /// <summary>EI_CLASS values.</summary>
    public const byte Class32 = 1, Class64 = 2;

    /// <summary>EI_DATA values: two's complement little-endian (accepted) and big-endian (refused).</summary>
    public const byte DataLittleEndian = 1, DataBigEndian = 2;

    /// <summary>EV_CURRENT, the only version (in EI_VERSION and e_version).</summary>
    public const uint VersionCurrent = 1;

    /// <summary>Header sizes per class.</summary>
    public const int Header32Size = 52, Header64Size = 64, ProgramHeader32Size = 32, ProgramHeader64Size = 56,
        SectionHeader32Size = 40, SectionHeader64Size = 64;

    /// <summary>Offsets shared by both classes' file headers.</summary>
    public const int HeaderType = 16, HeaderMachine = 18, HeaderVersion = 20, HeaderEntry = 24;

    /// <summary>Offsets in Elf32_Ehdr past e_entry.</summary>
    public const int Header32PhOff = 28, Header32ShOff = 32, Header32Flags = 36, Header32EhSize = 40, Header32PhEntSize = 42,
        Header32PhNum = 44, Header32ShEntSize = 46, Header32ShNum = 48, Header32ShStrNdx = 50;

    /// <summary>Offsets in Elf64_Ehdr past e_entry.</summary>
    public const int Header64PhOff = 32, Header64ShOff = 40, Header64Flags = 48, Header64EhSize = 52, Header64PhEntSize = 54,
        Header64PhNum = 56, Header64ShEntSize = 58, Header64ShNum = 60, Header64ShStrNdx = 62;

    /// <summary>Offsets in Elf32_Phdr.</summary>
    public const int Phdr32Type = 0, Phdr32Offset = 4, Phdr32VAddr = 8, Phdr32PAddr = 12, Phdr32FileSz = 16, Phdr32MemSz = 20,
        Phdr32Flags = 24, Phdr32Align = 28;

    /// <summary>Offsets in Elf64_Phdr (p_flags moves up to keep the 64-bit fields aligned).</summary>
    public const int Phdr64Type = 0, Phdr64Flags = 4, Phdr64Offset = 8, Phdr64VAddr = 16, Phdr64PAddr = 24, Phdr64FileSz = 32,
        Phdr64MemSz = 40, Phdr64Align = 48;

    /// <summary>Offsets in Elf32_Shdr.</summary>
    public const int Shdr32Name = 0, Shdr32Type = 4, Shdr32Flags = 8, Shdr32Addr = 12, Shdr32Offset = 16, Shdr32Size = 20,
        Shdr32Link = 24, Shdr32Info = 28, Shdr32AddrAlign = 32, Shdr32EntSize = 36;

    /// <summary>Offsets in Elf64_Shdr.</summary>
    public const int Shdr64Name = 0, Shdr64Type = 4, Shdr64Flags = 8, Shdr64Addr = 16, Shdr64Offset = 24, Shdr64Size = 32,
        Shdr64Link = 40, Shdr64Info = 44, Shdr64AddrAlign = 48, Shdr64EntSize = 56;

    /// <summary>e_type values.</summary>
    public const ushort TypeNone = 0, TypeRelocatable = 1, TypeExecutable = 2, TypeShared = 3, TypeCore = 4;

    /// <summary>p_type values used here (PT_NULL, PT_LOAD, PT_NOTE).</summary>
    public const uint SegmentNull = 0, SegmentLoad = 1, SegmentNote = 4;

    /// <summary>p_flags bits.</summary>
    public const uint FlagExecute = 1, FlagWrite = 2, FlagRead = 4;

    /// <summary>sh_type values used here.</summary>
    public const uint SectionNull = 0, SectionProgBits = 1, SectionStringTable = 3, SectionNoBits = 8;

    /// <summary>SHN_UNDEF: e_shstrndx when the file has no section-name string table.</summary>
    public const ushort SectionUndefined = 0;

    /// <summary>PN_XNUM: e_phnum saying the real count is in section 0 (extended numbering, not accepted here).</summary>
    public const ushort ProgramHeaderExtendedCount = 0xFFFF;
}

using AmpCan.Remoteproc.Firmware.Wire;
using static AmpCan.Remoteproc.Firmware.Wire.ElfLayout;

namespace AmpCan.Remoteproc.Firmware;

/// <summary>
/// A firmware ELF file, parsed and validated once: the file header, every program header and every section header
/// with its name. Anything a hostile file could lie about is checked before it is used; a violation is a
/// <see cref="FirmwareException"/> naming the header, the field and the value. 32- and 64-bit little-endian only.
/// </summary>
// Written small over spans instead of using ELFSharp or LibObjectFile: both build an allocated object model and neither is designed for hostile input.
public sealed class ElfImage
{
    /// <summary>The most program or section headers an image may have (far above any firmware's; bounds the work a hostile file causes).</summary>
    public const int MaxHeaders = 4096;

    private ElfImage(ReadOnlyMemory<byte> bytes, ElfClass elfClass, ushort type, ushort machine, ulong entry, uint flags,
        IReadOnlyList<ElfSegment> segments, IReadOnlyList<ElfSection> sections)
    {
        Bytes = bytes;
        Class = elfClass;
        Type = type;
        Machine = machine;
        Entry = entry;
        Flags = flags;
        Segments = segments;
        Sections = sections;
    }

    /// <summary>The whole file.</summary>
    public ReadOnlyMemory<byte> Bytes { get; }

    /// <summary>ELFCLASS32 or ELFCLASS64.</summary>
    public ElfClass Class { get; }

    /// <summary>e_type (ET_EXEC 2 for firmware, ET_CORE 4 for a core dump).</summary>
    public ushort Type { get; }

    /// <summary>e_machine (EM_ARM 40, EM_AARCH64 183, EM_RISCV 243, ...; see <see cref="ElfMachine"/>).</summary>
    public ushort Machine { get; }

    /// <summary>e_entry: the boot address (Linux rproc_elf_get_boot_addr).</summary>
    public ulong Entry { get; }

    /// <summary>e_flags (processor specific, e.g. the ARM EABI version).</summary>
    public uint Flags { get; }

    /// <summary>Program headers in table order.</summary>
    public IReadOnlyList<ElfSegment> Segments { get; }

    /// <summary>Section headers in table order (empty when the file has none).</summary>
    public IReadOnlyList<ElfSection> Sections { get; }

    /// <summary>The first section named <paramref name="name"/> (Linux's find_table also takes the first), or null.</summary>
    public ElfSection? FindSection(string name) => Sections.FirstOrDefault(s => s.Name == name);

    /// <summary>The file bytes of a segment (p_filesz of them at p_offset).</summary>
    /// <remarks>A segment without file bytes may name any offset (the reader allows it, as PT_GNU_STACK gives 0), past the file too.</remarks>
    public ReadOnlyMemory<byte> SegmentBytes(ElfSegment segment) =>
        segment.FileSize == 0 ? ReadOnlyMemory<byte>.Empty : Bytes.Slice((int)segment.Offset, (int)segment.FileSize);

    /// <summary>The file bytes of a section; empty for SHT_NOBITS and SHT_NULL.</summary>
    public ReadOnlyMemory<byte> SectionBytes(ElfSection section) =>
        section.HasFileBytes && section.Size != 0 ? Bytes.Slice((int)section.Offset, (int)section.Size) : ReadOnlyMemory<byte>.Empty;

    /// <summary>Parses and validates an ELF file held in memory (the memory is kept, not copied).</summary>
    /// <exception cref="FirmwareException">Any field is malformed or out of range; the message names it.</exception>
    public static ElfImage Parse(ReadOnlyMemory<byte> file)
    {
        ReadOnlySpan<byte> f = file.Span;
        if (f.Length < IdentSize) throw new FirmwareException($"file of {f.Length} bytes is shorter than the {IdentSize}-byte e_ident");
        if (!f[..4].SequenceEqual(Magic))
            throw new FirmwareException($"e_ident magic {Convert.ToHexString(f[..4])} is not 7F454C46 (\\x7fELF): not an ELF file");
        ElfClass elfClass = f[IdentClass] switch
        {
            Class32 => ElfClass.Elf32,
            Class64 => ElfClass.Elf64,
            byte c => throw new FirmwareException($"EI_CLASS {c} is neither ELFCLASS32 (1) nor ELFCLASS64 (2)"),
        };
        if (f[IdentData] != DataLittleEndian)
            throw new FirmwareException(f[IdentData] == DataBigEndian
                ? "EI_DATA 2 (ELFDATA2MSB, big-endian) is not supported: only little-endian images are"
                : $"EI_DATA {f[IdentData]} is not ELFDATA2LSB (1, little-endian)");
        if (f[IdentVersion] != VersionCurrent) throw new FirmwareException($"EI_VERSION {f[IdentVersion]} is not EV_CURRENT (1)");
        bool is64 = elfClass == ElfClass.Elf64;
        int headerSize = is64 ? Header64Size : Header32Size;
        if (f.Length < headerSize)
            throw new FirmwareException($"file of {f.Length} bytes is shorter than the {headerSize}-byte ELF{(is64 ? 64 : 32)} header");

        var h = new ElfFields(f[..headerSize], elfClass);
        uint version = h.U32(HeaderVersion);
        if (version != VersionCurrent) throw new FirmwareException($"e_version {version} is not EV_CURRENT (1)");
        ushort ehsize = h.U16(is64 ? Header64EhSize : Header32EhSize);
        if (ehsize != headerSize) throw new FirmwareException($"e_ehsize {ehsize} is not the ELF{(is64 ? 64 : 32)} header size {headerSize}");

        var programTable = HeaderTable.Read(h, f.Length, "program", "e_ph", is64 ? Header64PhOff : Header32PhOff,
            is64 ? Header64PhEntSize : Header32PhEntSize, is64 ? Header64PhNum : Header32PhNum, is64 ? ProgramHeader64Size : ProgramHeader32Size);
        var sectionTable = HeaderTable.Read(h, f.Length, "section", "e_sh", is64 ? Header64ShOff : Header32ShOff,
            is64 ? Header64ShEntSize : Header32ShEntSize, is64 ? Header64ShNum : Header32ShNum, is64 ? SectionHeader64Size : SectionHeader32Size);
        ushort shstrndx = h.U16(is64 ? Header64ShStrNdx : Header32ShStrNdx);
        if (shstrndx != SectionUndefined && shstrndx >= sectionTable.Count)
            throw new FirmwareException($"e_shstrndx {shstrndx} is out of range: the file has {sectionTable.Count} section headers (e_shnum)");

        IReadOnlyList<ElfSegment> segments = ElfProgramHeaderTable.Read(f, elfClass, programTable);
        IReadOnlyList<ElfSection> sections = ElfSectionHeaderTable.Read(f, elfClass, sectionTable, shstrndx);
        return new ElfImage(file, elfClass, h.U16(HeaderType), h.U16(HeaderMachine), h.Word(HeaderEntry, HeaderEntry),
            h.U32(is64 ? Header64Flags : Header32Flags), segments, sections);
    }

    /// <summary>Reads (at most <paramref name="maxBytes"/> of) a file and parses it; every error message starts with the path.</summary>
    /// <exception cref="FirmwareException">The file cannot be read, is too large, or is malformed.</exception>
    public static ElfImage Load(string path, int maxBytes = FirmwareFile.DefaultMaxBytes)
    {
        byte[] bytes = FirmwareFile.Read(path, maxBytes);
        try { return Parse(bytes); }
        catch (FirmwareException e)
        {
            throw new FirmwareException($"{path}: {e.Message}");
        }
    }
}

/// <summary>Where a header table is (e_phoff/e_shoff, validated count and entry size).</summary>
internal readonly record struct HeaderTable(ulong Offset, int Count, int EntrySize)
{
    /// <summary>Reads and validates one table's offset, entry size and count from the file header.</summary>
    public static HeaderTable Read(ElfFields h, int fileLength, string what, string field, int offOffset, int entSizeOffset, int numOffset, int entrySize)
    {
        ulong offset = h.Word(offOffset, offOffset);
        ushort entSize = h.U16(entSizeOffset);
        ushort count = h.U16(numOffset);
        if (count == 0) return new HeaderTable(0, 0, entrySize); // no table: its offset and entry size mean nothing
        if (field == "e_ph" && count == ProgramHeaderExtendedCount)
            throw new FirmwareException($"e_phnum 0x{count:x} (PN_XNUM, extended numbering) is not supported");
        if (count > ElfImage.MaxHeaders)
            throw new FirmwareException($"{field}num {count} is over the limit of {ElfImage.MaxHeaders} {what} headers");
        if (entSize != entrySize)
            throw new FirmwareException($"{field}entsize {entSize} is not the {(h.Is64 ? "ELF64" : "ELF32")} {what} header size {entrySize}");
        if (!ElfRange.InsideFile(offset, (ulong)count * (ulong)entrySize, fileLength))
            throw new FirmwareException($"{what} header table at {field}off 0x{offset:x} ({count} x {entrySize} bytes, {field}num {count}) runs past the end of the 0x{fileLength:x}-byte file");
        return new HeaderTable(offset, count, entrySize);
    }
}

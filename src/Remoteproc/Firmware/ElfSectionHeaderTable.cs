using System.Text;
using static AmpCan.Remoteproc.Firmware.Wire.ElfLayout;

namespace AmpCan.Remoteproc.Firmware;

/// <summary>Reads the section header table, checks each section against the file and names it from the e_shstrndx string table.</summary>
internal static class ElfSectionHeaderTable
{
    private readonly record struct Raw(uint Name, uint Type, ulong Flags, ulong Address, ulong Offset, ulong Size);

    public static IReadOnlyList<ElfSection> Read(ReadOnlySpan<byte> file, ElfClass elfClass, HeaderTable table, ushort shstrndx)
    {
        var raw = new Raw[table.Count];
        for (int i = 0; i < table.Count; i++)
        {
            var h = new ElfFields(file.Slice(checked((int)table.Offset + i * table.EntrySize), table.EntrySize), elfClass);
            raw[i] = new Raw(h.U32(Shdr32Name), h.U32(Shdr32Type), h.Word(Shdr32Flags, Shdr64Flags), h.Word(Shdr32Addr, Shdr64Addr),
                h.Word(Shdr32Offset, Shdr64Offset), h.Word(Shdr32Size, Shdr64Size));
            Check(i, raw[i], file.Length, elfClass);
        }

        ReadOnlySpan<byte> names = [];
        if (shstrndx != SectionUndefined)
        {
            Raw strtab = raw[shstrndx];
            if (strtab.Type != SectionStringTable)
                throw new FirmwareException($"e_shstrndx {shstrndx} names section {shstrndx}, whose sh_type {strtab.Type} is not SHT_STRTAB ({SectionStringTable})");
            names = file.Slice((int)strtab.Offset, (int)strtab.Size);
        }
        var sections = new ElfSection[table.Count];
        for (int i = 0; i < table.Count; i++)
        {
            Raw r = raw[i];
            sections[i] = new ElfSection(i, shstrndx == SectionUndefined ? "" : Name(i, r.Name, names), r.Type, r.Flags, r.Address, r.Offset, r.Size);
        }
        return sections;
    }

    private static void Check(int index, Raw s, int fileLength, ElfClass elfClass)
    {
        // SHT_NOBITS (.bss) occupies memory but no file bytes, so its offset and size say nothing about the file.
        if (s.Type is not (SectionNoBits or SectionNull) && !ElfRange.InsideFile(s.Offset, s.Size, fileLength))
            throw new FirmwareException($"section {index}: sh_offset 0x{s.Offset:x} + sh_size 0x{s.Size:x} runs past the end of the 0x{fileLength:x}-byte file");
        if (s.Size != 0 && s.Type != SectionNull && ElfRange.Last(s.Address, s.Size, elfClass) is null)
            throw new FirmwareException($"section {index}: sh_addr 0x{s.Address:x} + sh_size 0x{s.Size:x} runs past the end of {ElfRange.SpaceName(elfClass)}");
    }

    private static string Name(int index, uint offset, ReadOnlySpan<byte> names)
    {
        int end = offset < (uint)names.Length ? names[(int)offset..].IndexOf((byte)0) : -1;
        if (end < 0)
            throw new FirmwareException($"section {index}: sh_name 0x{offset:x} is not a NUL-terminated string inside the 0x{names.Length:x}-byte section-name table");
        return Encoding.UTF8.GetString(names.Slice((int)offset, end));
    }
}

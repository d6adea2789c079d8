using System.Buffers.Binary;
using System.Text;
using AmpCan.Remoteproc.Firmware;
using static AmpCan.Remoteproc.Firmware.Wire.ElfLayout;

namespace AmpCan.Tests.Remoteproc.Firmware;

/// <summary>
/// Writes small ELF images for tests, laid out as a linker would: file header, program headers, each segment's bytes,
/// each standalone section's bytes, the section-name table, then the section headers. Section 0 is the SHT_NULL entry
/// and the last is <c>.shstrtab</c>. A section may also point into a segment, as <c>.resource_table</c> does in firmware.
/// </summary>
internal sealed class ElfBuilder(ElfClass elfClass, ushort machine = ElfMachine.Arm, ulong entry = 0, ushort type = TypeExecutable)
{
    private sealed record SegmentSpec(uint Type, ulong PAddr, ulong VAddr, byte[] Data, ulong MemSize, uint Flags);

    private sealed record SectionSpec(string Name, uint Type, ulong Flags, ulong Address, byte[]? Data, ulong NoBitsSize, int Segment, int SegmentOffset);

    private readonly List<SegmentSpec> _segments = [];
    private readonly List<SectionSpec> _sections = [];

    public bool Is64 => elfClass == ElfClass.Elf64;

    /// <summary>A segment whose file bytes are <paramref name="data"/> and whose memory size is <paramref name="memSize"/> (default: the data's).</summary>
    public ElfBuilder Segment(ulong paddr, byte[] data, ulong? memSize = null, uint flags = FlagRead | FlagExecute, uint segmentType = SegmentLoad, ulong? vaddr = null)
    {
        _segments.Add(new SegmentSpec(segmentType, paddr, vaddr ?? paddr, data, memSize ?? (ulong)data.Length, flags));
        return this;
    }

    /// <summary>A section with bytes of its own (not inside a segment).</summary>
    public ElfBuilder Section(string name, byte[] data, ulong address = 0, uint sectionType = SectionProgBits, ulong flags = 0)
    {
        _sections.Add(new SectionSpec(name, sectionType, flags, address, data, 0, -1, 0));
        return this;
    }

    /// <summary>A section over <paramref name="size"/> bytes of segment <paramref name="segment"/> at <paramref name="offset"/> (sh_addr follows p_paddr).</summary>
    public ElfBuilder SectionInSegment(string name, int segment, int offset, int size)
    {
        _sections.Add(new SectionSpec(name, SectionProgBits, 2 /* SHF_ALLOC */, 0, null, (ulong)size, segment, offset));
        return this;
    }

    /// <summary>An SHT_NOBITS section (.bss): memory, no file bytes.</summary>
    public ElfBuilder NoBits(string name, ulong address, ulong size)
    {
        _sections.Add(new SectionSpec(name, SectionNoBits, 3 /* SHF_WRITE | SHF_ALLOC */, address, null, size, -1, 0));
        return this;
    }

    public BuiltElf Build()
    {
        int eh = Is64 ? Header64Size : Header32Size, phs = Is64 ? ProgramHeader64Size : ProgramHeader32Size, shs = Is64 ? SectionHeader64Size : SectionHeader32Size;
        var file = new MemoryStream();
        file.Write(new byte[eh + _segments.Count * phs]);
        var segmentOffsets = new List<long>();
        foreach (SegmentSpec s in _segments)
        {
            Align(file, 8);
            segmentOffsets.Add(file.Position);
            file.Write(s.Data);
        }

        // Names: "" at 0, then each section's, then ".shstrtab".
        var names = new MemoryStream();
        names.WriteByte(0);
        int NameAt(string n) { int at = (int)names.Position; names.Write(Encoding.UTF8.GetBytes(n + "\0")); return at; }
        var rows = new List<(int Name, uint Type, ulong Flags, ulong Addr, ulong Offset, ulong Size)> { (0, SectionNull, 0, 0, 0, 0) };
        foreach (SectionSpec s in _sections)
        {
            int name = NameAt(s.Name);
            if (s.Segment >= 0)
                rows.Add((name, s.Type, s.Flags, _segments[s.Segment].PAddr + (ulong)s.SegmentOffset, (ulong)(segmentOffsets[s.Segment] + s.SegmentOffset), s.NoBitsSize));
            else if (s.Data is null)
                rows.Add((name, s.Type, s.Flags, s.Address, (ulong)file.Position, s.NoBitsSize));
            else
            {
                Align(file, 4);
                rows.Add((name, s.Type, s.Flags, s.Address, (ulong)file.Position, (ulong)s.Data.Length));
                file.Write(s.Data);
            }
        }
        int strtabName = NameAt(".shstrtab");
        rows.Add((strtabName, SectionStringTable, 0, 0, (ulong)file.Position, (ulong)names.Length));
        file.Write(names.ToArray());
        Align(file, 8);
        long shoff = file.Position;
        file.Write(new byte[rows.Count * shs]);

        var elf = new BuiltElf(file.ToArray(), Is64);
        byte[] b = elf.Bytes;
        Magic.CopyTo(b);
        b[IdentClass] = Is64 ? Class64 : Class32;
        b[IdentData] = DataLittleEndian;
        b[IdentVersion] = 1;
        elf.U16(HeaderType, type);
        elf.U16(HeaderMachine, machine);
        elf.U32(HeaderVersion, 1);
        elf.Word(HeaderEntry, HeaderEntry, entry);
        elf.Word(Header32PhOff, Header64PhOff, _segments.Count == 0 ? 0 : (ulong)eh);
        elf.Word(Header32ShOff, Header64ShOff, (ulong)shoff);
        elf.U16(Is64 ? Header64EhSize : Header32EhSize, (ushort)eh);
        elf.U16(Is64 ? Header64PhEntSize : Header32PhEntSize, (ushort)phs);
        elf.U16(Is64 ? Header64PhNum : Header32PhNum, (ushort)_segments.Count);
        elf.U16(Is64 ? Header64ShEntSize : Header32ShEntSize, (ushort)shs);
        elf.U16(Is64 ? Header64ShNum : Header32ShNum, (ushort)rows.Count);
        elf.U16(Is64 ? Header64ShStrNdx : Header32ShStrNdx, (ushort)(rows.Count - 1));
        for (int i = 0; i < _segments.Count; i++)
        {
            SegmentSpec s = _segments[i];
            int p = elf.ProgramHeader(i);
            elf.U32(p + Phdr32Type, s.Type);
            elf.U32(p + (Is64 ? Phdr64Flags : Phdr32Flags), s.Flags);
            elf.Word(p + Phdr32Offset, p + Phdr64Offset, (ulong)segmentOffsets[i]);
            elf.Word(p + Phdr32VAddr, p + Phdr64VAddr, s.VAddr);
            elf.Word(p + Phdr32PAddr, p + Phdr64PAddr, s.PAddr);
            elf.Word(p + Phdr32FileSz, p + Phdr64FileSz, (ulong)s.Data.Length);
            elf.Word(p + Phdr32MemSz, p + Phdr64MemSz, s.MemSize);
            elf.Word(p + Phdr32Align, p + Phdr64Align, 8);
        }
        for (int i = 0; i < rows.Count; i++)
        {
            var r = rows[i];
            int h = (int)shoff + i * shs;
            elf.U32(h + Shdr32Name, (uint)r.Name);
            elf.U32(h + Shdr32Type, r.Type);
            elf.Word(h + Shdr32Flags, h + Shdr64Flags, r.Flags);
            elf.Word(h + Shdr32Addr, h + Shdr64Addr, r.Addr);
            elf.Word(h + Shdr32Offset, h + Shdr64Offset, r.Offset);
            elf.Word(h + Shdr32Size, h + Shdr64Size, r.Size);
        }
        return elf;
    }

    private static void Align(MemoryStream s, int to)
    {
        while (s.Position % to != 0) s.WriteByte(0);
    }
}

/// <summary>A built image and where its headers are, so a test can rewrite one field.</summary>
internal sealed class BuiltElf(byte[] bytes, bool is64)
{
    public byte[] Bytes { get; } = bytes;
    public bool Is64 { get; } = is64;

    public int ProgramHeaderOffset => (int)ReadWord(Header32PhOff, Header64PhOff);
    public int SectionHeaderOffset => (int)ReadWord(Header32ShOff, Header64ShOff);
    public int ProgramHeader(int index) => (Is64 ? Header64Size : Header32Size) + index * (Is64 ? ProgramHeader64Size : ProgramHeader32Size);
    public int SectionHeader(int index) => SectionHeaderOffset + index * (Is64 ? SectionHeader64Size : SectionHeader32Size);

    public void U16(int at, ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(Bytes.AsSpan(at), v);
    public void U32(int at, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(Bytes.AsSpan(at), v);

    /// <summary>Writes an address/offset/size field: u32 at <paramref name="at32"/> in ELF32, u64 at <paramref name="at64"/> in ELF64.</summary>
    public void Word(int at32, int at64, ulong v)
    {
        if (Is64) BinaryPrimitives.WriteUInt64LittleEndian(Bytes.AsSpan(at64), v);
        else BinaryPrimitives.WriteUInt32LittleEndian(Bytes.AsSpan(at32), checked((uint)v));
    }

    public ulong ReadWord(int at32, int at64) =>
        Is64 ? BinaryPrimitives.ReadUInt64LittleEndian(Bytes.AsSpan(at64)) : BinaryPrimitives.ReadUInt32LittleEndian(Bytes.AsSpan(at32));

    /// <summary>Sets a program header field (offsets from <see cref="AmpCan.Remoteproc.Firmware.Wire.ElfLayout"/>).</summary>
    public BuiltElf Ph(int index, int off32, int off64, ulong v)
    {
        int p = ProgramHeader(index);
        Word(p + off32, p + off64, v);
        return this;
    }

    /// <summary>Sets a section header field.</summary>
    public BuiltElf Sh(int index, int off32, int off64, ulong v)
    {
        int h = SectionHeader(index);
        Word(h + off32, h + off64, v);
        return this;
    }
}

using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Firmware;
using static AmpCan.Remoteproc.Firmware.Wire.ElfLayout;

namespace AmpCan.Tests.Remoteproc.Firmware;

/// <summary>One test per lie a hostile image can tell; each asserts the refusal names the field.</summary>
[TestFixture(ElfClass.Elf32)]
[TestFixture(ElfClass.Elf64)]
public class HostileElfTests(ElfClass elfClass)
{
    private bool Is64 => elfClass == ElfClass.Elf64;

    /// <summary>Two segments, a resource table inside the second, .bss, .comment (section 3) and .shstrtab (section 4).</summary>
    internal static BuiltElf Valid(ElfClass elfClass)
    {
        byte[] table = new ResourceTableBuilder().Trace(0x2000_8000, 0x400, "trace0").Build();
        return new ElfBuilder(elfClass, entry: 0x1000_0001)
            .Segment(0x1000_0000, [.. Enumerable.Range(1, 64).Select(i => (byte)i)])
            .Segment(0x2000_0000, table, memSize: 0x800, flags: FlagRead | FlagWrite)
            .SectionInSegment(ResourceTableSection.SectionName, 1, 0, table.Length)
            .NoBits(".bss", 0x2000_0000 + (ulong)table.Length, 0x100)
            .Section(".comment", "GCC\0"u8.ToArray())
            .Build();
    }

    private string Refused(byte[] bytes) => Assert.Throws<FirmwareException>(() => ElfImage.Parse(bytes))!.Message;

    private string Refused(BuiltElf elf) => Refused(elf.Bytes);

    [Test]
    public void TheValidImageParses() => Assert.That(ElfImage.Parse(Valid(elfClass).Bytes).Segments, Has.Count.EqualTo(2));

    [Test]
    public void TruncatedIdent() => Assert.That(Refused(Valid(elfClass).Bytes[..10]), Is.EqualTo("file of 10 bytes is shorter than the 16-byte e_ident"));

    [Test]
    public void TruncatedHeader()
    {
        int n = Is64 ? 60 : 50;
        Assert.That(Refused(Valid(elfClass).Bytes[..n]), Is.EqualTo($"file of {n} bytes is shorter than the {(Is64 ? 64 : 52)}-byte ELF{(Is64 ? 64 : 32)} header"));
    }

    [Test]
    public void BadMagic()
    {
        BuiltElf e = Valid(elfClass);
        e.Bytes[1] = (byte)'X';
        Assert.That(Refused(e), Does.Contain("e_ident magic 7F584C46").And.Contain("not an ELF file"));
    }

    [TestCase((byte)0)]
    [TestCase((byte)3)]
    public void UnknownClass(byte value)
    {
        BuiltElf e = Valid(elfClass);
        e.Bytes[IdentClass] = value;
        Assert.That(Refused(e), Is.EqualTo($"EI_CLASS {value} is neither ELFCLASS32 (1) nor ELFCLASS64 (2)"));
    }

    [Test]
    public void BigEndian()
    {
        BuiltElf e = Valid(elfClass);
        e.Bytes[IdentData] = DataBigEndian;
        Assert.That(Refused(e), Does.StartWith("EI_DATA 2 (ELFDATA2MSB, big-endian) is not supported"));
        e.Bytes[IdentData] = 7;
        Assert.That(Refused(e), Does.StartWith("EI_DATA 7"));
    }

    [Test]
    public void WrongVersions()
    {
        BuiltElf e = Valid(elfClass);
        e.Bytes[IdentVersion] = 2;
        Assert.That(Refused(e), Does.StartWith("EI_VERSION 2"));
        e = Valid(elfClass);
        e.U32(HeaderVersion, 0);
        Assert.That(Refused(e), Does.StartWith("e_version 0"));
    }

    [Test]
    public void WrongHeaderSize()
    {
        BuiltElf e = Valid(elfClass);
        e.U16(Is64 ? Header64EhSize : Header32EhSize, 40);
        Assert.That(Refused(e), Does.StartWith("e_ehsize 40"));
    }

    [Test]
    public void WrongProgramHeaderEntrySize()
    {
        BuiltElf e = Valid(elfClass);
        e.U16(Is64 ? Header64PhEntSize : Header32PhEntSize, 40);
        Assert.That(Refused(e), Is.EqualTo($"e_phentsize 40 is not the ELF{(Is64 ? 64 : 32)} program header size {(Is64 ? 56 : 32)}"));
    }

    [Test]
    public void WrongSectionHeaderEntrySize()
    {
        BuiltElf e = Valid(elfClass);
        e.U16(Is64 ? Header64ShEntSize : Header32ShEntSize, 32);
        Assert.That(Refused(e), Does.StartWith("e_shentsize 32 is not the"));
    }

    [Test]
    public void ProgramHeaderCountOverTheCap()
    {
        BuiltElf e = Valid(elfClass);
        e.U16(Is64 ? Header64PhNum : Header32PhNum, 5000);
        Assert.That(Refused(e), Is.EqualTo("e_phnum 5000 is over the limit of 4096 program headers"));
        e.U16(Is64 ? Header64PhNum : Header32PhNum, 0xFFFF);
        Assert.That(Refused(e), Does.Contain("PN_XNUM"));
    }

    [Test]
    public void ProgramHeaderCountBeyondTheFile()
    {
        BuiltElf e = Valid(elfClass);
        e.U16(Is64 ? Header64PhNum : Header32PhNum, 4000);
        Assert.That(Refused(e), Does.StartWith($"program header table at e_phoff 0x{(Is64 ? 64 : 52):x} (4000 x").And.Contain("runs past the end of the"));
    }

    [Test]
    public void ProgramHeaderTableOffsetThatWouldWrap()
    {
        BuiltElf e = Valid(elfClass);
        ulong huge = Is64 ? ulong.MaxValue - 8 : uint.MaxValue - 8;
        e.Word(Header32PhOff, Header64PhOff, huge);
        Assert.That(Refused(e), Does.StartWith($"program header table at e_phoff 0x{huge:x}"));
    }

    [Test]
    public void SectionHeaderTablePastTheFile()
    {
        BuiltElf e = Valid(elfClass);
        e.Word(Header32ShOff, Header64ShOff, (ulong)e.Bytes.Length - 8);
        Assert.That(Refused(e), Does.StartWith($"section header table at e_shoff 0x{e.Bytes.Length - 8:x}").And.Contain($"the 0x{e.Bytes.Length:x}-byte file"));
    }

    [Test]
    public void SegmentRunningPastTheFile()
    {
        BuiltElf e = Valid(elfClass);
        ulong off = e.ReadWord(e.ProgramHeader(1) + Phdr32Offset, e.ProgramHeader(1) + Phdr64Offset);
        e.Ph(1, Phdr32FileSz, Phdr64FileSz, 0x700);
        Assert.That(Refused(e), Is.EqualTo($"program header 1 (LOAD): p_offset 0x{off:x} + p_filesz 0x700 runs past the end of the 0x{e.Bytes.Length:x}-byte file"));
    }

    [Test]
    public void SegmentOffsetThatWouldWrap()
    {
        BuiltElf e = Valid(elfClass);
        ulong huge = Is64 ? ulong.MaxValue - 0x10 : uint.MaxValue - 0x10;
        e.Ph(0, Phdr32Offset, Phdr64Offset, huge);
        Assert.That(Refused(e), Does.StartWith($"program header 0 (LOAD): p_offset 0x{huge:x} + p_filesz 0x40 runs past the end"));
    }

    [Test]
    public void FileSizeLargerThanMemorySize()
    {
        BuiltElf e = Valid(elfClass);
        e.Ph(0, Phdr32MemSz, Phdr64MemSz, 0x20);
        Assert.That(Refused(e), Is.EqualTo("program header 0 (LOAD): p_filesz 0x40 is larger than p_memsz 0x20"));
    }

    [Test]
    public void SegmentsOverlappingInDeviceAddress()
    {
        BuiltElf e = Valid(elfClass);
        e.Ph(1, Phdr32PAddr, Phdr64PAddr, 0x1000_0020); // inside segment 0's 0x40 bytes
        Assert.That(Refused(e), Is.EqualTo("program headers 0 and 1 (PT_LOAD) overlap in device address: p_paddr 0x10000000 + p_memsz 0x40 covers p_paddr 0x10000020 of program header 1"));
    }

    [Test]
    public void SegmentWrappingTheAddressSpace()
    {
        BuiltElf e = Valid(elfClass);
        ulong top = Is64 ? ulong.MaxValue - 0x1F : 0xFFFF_FFE0;
        e.Ph(1, Phdr32PAddr, Phdr64PAddr, top);
        Assert.That(Refused(e), Is.EqualTo($"program header 1 (LOAD): p_paddr 0x{top:x} + p_memsz 0x800 runs past the end of {(Is64 ? "the 2^64 address space" : "the 4 GiB (ELF32) address space")}"));
    }

    [Test]
    public void SectionNameTableIndexOutOfRange()
    {
        BuiltElf e = Valid(elfClass);
        e.U16(Is64 ? Header64ShStrNdx : Header32ShStrNdx, 5);
        Assert.That(Refused(e), Is.EqualTo("e_shstrndx 5 is out of range: the file has 5 section headers (e_shnum)"));
        e.U16(Is64 ? Header64ShStrNdx : Header32ShStrNdx, 0xFFFF); // SHN_XINDEX
        Assert.That(Refused(e), Does.StartWith("e_shstrndx 65535 is out of range"));
    }

    [Test]
    public void SectionNameTableThatIsNotAStringTable()
    {
        BuiltElf e = Valid(elfClass);
        e.U16(Is64 ? Header64ShStrNdx : Header32ShStrNdx, 3); // .comment, SHT_PROGBITS
        Assert.That(Refused(e), Is.EqualTo("e_shstrndx 3 names section 3, whose sh_type 1 is not SHT_STRTAB (3)"));
    }

    [Test]
    public void NameOutsideTheStringTable()
    {
        BuiltElf e = Valid(elfClass);
        e.U32(e.SectionHeader(2) + Shdr32Name, 0x1000);
        Assert.That(Refused(e), Does.StartWith("section 2: sh_name 0x1000 is not a NUL-terminated string inside the"));
    }

    [Test]
    public void NameNotTerminatedInsideTheStringTable()
    {
        BuiltElf e = Valid(elfClass);
        // Cut the string table's size by one so the last name (".shstrtab") loses its NUL.
        ulong size = e.ReadWord(e.SectionHeader(4) + Shdr32Size, e.SectionHeader(4) + Shdr64Size);
        e.Sh(4, Shdr32Size, Shdr64Size, size - 1);
        Assert.That(Refused(e), Does.StartWith($"section 4: sh_name 0x{size - 10:x} is not a NUL-terminated string inside the 0x{size - 1:x}-byte section-name table"));
    }

    [Test]
    public void SectionOutsideTheFile()
    {
        BuiltElf e = Valid(elfClass);
        e.Sh(3, Shdr32Offset, Shdr64Offset, (ulong)e.Bytes.Length - 2);
        Assert.That(Refused(e), Is.EqualTo($"section 3: sh_offset 0x{e.Bytes.Length - 2:x} + sh_size 0x4 runs past the end of the 0x{e.Bytes.Length:x}-byte file"));
    }

    [Test]
    public void NoBitsSectionMayPointAnywhereInTheFile()
    {
        BuiltElf e = Valid(elfClass);
        e.Sh(2, Shdr32Offset, Shdr64Offset, 0xFFFF_0000);
        Assert.That(ElfImage.Parse(e.Bytes).FindSection(".bss")!.Offset, Is.EqualTo(0xFFFF_0000UL));
    }

    [Test]
    public void SectionAddressWrappingTheAddressSpace()
    {
        BuiltElf e = Valid(elfClass);
        ulong top = Is64 ? ulong.MaxValue - 0x10 : 0xFFFF_FFF0;
        e.Sh(2, Shdr32Addr, Shdr64Addr, top);
        Assert.That(Refused(e), Does.StartWith($"section 2: sh_addr 0x{top:x} + sh_size 0x100 runs past the end of the"));
    }

    [Test]
    public void ResourceTableWithoutBytesOrTooShort()
    {
        BuiltElf e = Valid(elfClass);
        e.U32(e.SectionHeader(1) + Shdr32Type, SectionNoBits);
        var ex = Assert.Throws<FirmwareException>(() => ResourceTableSection.Find(ElfImage.Parse(e.Bytes)));
        Assert.That(ex!.Message, Is.EqualTo("section 1 (.resource_table): sh_type 8 has no bytes in the file, so it holds no table"));

        e = Valid(elfClass);
        e.Sh(1, Shdr32Size, Shdr64Size, 12);
        ex = Assert.Throws<FirmwareException>(() => ResourceTableSection.Find(ElfImage.Parse(e.Bytes)));
        Assert.That(ex!.Message, Is.EqualTo("section 1 (.resource_table): sh_size 0xc is shorter than the 16-byte table header"));
    }

    [Test]
    public void ResourceTablePointingOutsideItself()
    {
        BuiltElf e = Valid(elfClass);
        int table = (int)e.ReadWord(e.SectionHeader(1) + Shdr32Offset, e.SectionHeader(1) + Shdr64Offset);
        e.U32(table + 16, 0x1000); // offset[0]: past the 0x44-byte table, though still inside the file
        var ex = Assert.Throws<FirmwareException>(() => FirmwareResourceTable.Decode(ElfImage.Parse(e.Bytes)));
        Assert.That(ex!.Message, Is.EqualTo("section 1 (.resource_table): resource entry 0: offset 0x1000 is outside the table (0x44 bytes) or inside its header"));
    }

    [Test]
    public void NoSectionsButANameTableIndex()
    {
        BuiltElf e = Valid(elfClass);
        e.U16(Is64 ? Header64ShNum : Header32ShNum, 0);
        Assert.That(Refused(e), Is.EqualTo("e_shstrndx 4 is out of range: the file has 0 section headers (e_shnum)"));
        e.U16(Is64 ? Header64ShStrNdx : Header32ShStrNdx, 0);
        Assert.That(ElfImage.Parse(e.Bytes).Sections, Is.Empty, "e_shnum 0 is a file without sections, whatever e_shoff says");
    }
}

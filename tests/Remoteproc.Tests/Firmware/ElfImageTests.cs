using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Firmware;
using static AmpCan.Remoteproc.Firmware.Wire.ElfLayout;

namespace AmpCan.Tests.Remoteproc.Firmware;

public class ElfImageTests
{
    // An ELF32 Cortex-M image written by hand from the System V gABI (Elf32_Ehdr, Elf32_Phdr; all little-endian):
    // one PT_LOAD of 8 file bytes and 16 memory bytes, run at 0x10000000 and loaded at 0x08000000.
    private static readonly byte[] Elf32Literal =
    [
        0x7F, (byte)'E', (byte)'L', (byte)'F', 0x01, 0x01, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, // ident: ELFCLASS32, LSB, EV_CURRENT, SYSV
        0x02, 0x00,                                     // e_type ET_EXEC
        0x28, 0x00,                                     // e_machine 40 (EM_ARM)
        0x01, 0x00, 0x00, 0x00,                         // e_version 1
        0xC1, 0x00, 0x00, 0x10,                         // e_entry 0x100000c1 (Thumb bit set)
        0x34, 0x00, 0x00, 0x00,                         // e_phoff 52
        0x00, 0x00, 0x00, 0x00,                         // e_shoff 0
        0x00, 0x02, 0x00, 0x05,                         // e_flags 0x05000200 (EABI5, hard float)
        0x34, 0x00,                                     // e_ehsize 52
        0x20, 0x00,                                     // e_phentsize 32
        0x01, 0x00,                                     // e_phnum 1
        0x28, 0x00,                                     // e_shentsize 40
        0x00, 0x00,                                     // e_shnum 0
        0x00, 0x00,                                     // e_shstrndx 0 (SHN_UNDEF)
        // @52 Elf32_Phdr
        0x01, 0x00, 0x00, 0x00,                         // p_type PT_LOAD
        0x54, 0x00, 0x00, 0x00,                         // p_offset 84
        0x00, 0x00, 0x00, 0x10,                         // p_vaddr 0x10000000
        0x00, 0x00, 0x00, 0x08,                         // p_paddr 0x08000000
        0x08, 0x00, 0x00, 0x00,                         // p_filesz 8
        0x10, 0x00, 0x00, 0x00,                         // p_memsz 16
        0x05, 0x00, 0x00, 0x00,                         // p_flags PF_R | PF_X
        0x04, 0x00, 0x00, 0x00,                         // p_align 4
        // @84 the segment's bytes
        0xDE, 0xAD, 0xBE, 0xEF, 0x01, 0x02, 0x03, 0x04,
    ];

    // The same for ELF64 (Elf64_Ehdr, Elf64_Phdr: p_flags moves to offset 4): an AArch64 image whose entry is past 4 GiB.
    private static readonly byte[] Elf64Literal =
    [
        0x7F, (byte)'E', (byte)'L', (byte)'F', 0x02, 0x01, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, // ident: ELFCLASS64, LSB, EV_CURRENT
        0x02, 0x00,                                     // e_type ET_EXEC
        0xB7, 0x00,                                     // e_machine 183 (EM_AARCH64)
        0x01, 0x00, 0x00, 0x00,                         // e_version 1
        0x40, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // e_entry 0x100000040
        0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // e_phoff 64
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // e_shoff 0
        0x00, 0x00, 0x00, 0x00,                         // e_flags 0
        0x40, 0x00,                                     // e_ehsize 64
        0x38, 0x00,                                     // e_phentsize 56
        0x01, 0x00,                                     // e_phnum 1
        0x40, 0x00,                                     // e_shentsize 64
        0x00, 0x00,                                     // e_shnum 0
        0x00, 0x00,                                     // e_shstrndx 0
        // @64 Elf64_Phdr
        0x01, 0x00, 0x00, 0x00,                         // p_type PT_LOAD
        0x06, 0x00, 0x00, 0x00,                         // p_flags PF_R | PF_W
        0x78, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // p_offset 120
        0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // p_vaddr 0x100000000
        0x00, 0x10, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // p_paddr 0x100001000
        0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // p_filesz 4
        0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // p_memsz 32
        0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // p_align 8
        // @120
        0xCA, 0xFE, 0xF0, 0x0D,
    ];

    [Test]
    public void ReadsTheFieldsOfAHandWrittenElf32Image()
    {
        ElfImage e = ElfImage.Parse(Elf32Literal);
        Assert.Multiple(() =>
        {
            Assert.That(e.Class, Is.EqualTo(ElfClass.Elf32));
            Assert.That(e.Type, Is.EqualTo(TypeExecutable));
            Assert.That(e.Machine, Is.EqualTo(ElfMachine.Arm));
            Assert.That(e.Entry, Is.EqualTo(0x100000C1UL));
            Assert.That(e.Flags, Is.EqualTo(0x05000200u));
            Assert.That(e.Sections, Is.Empty);
            Assert.That(e.Segments, Is.EqualTo(new[] { new ElfSegment(0, SegmentLoad, 84, 0x1000_0000, 0x0800_0000, 8, 16, FlagRead | FlagExecute, 4) }));
            Assert.That(e.Segments[0].FlagsText, Is.EqualTo("R-X"));
            Assert.That(e.SegmentBytes(e.Segments[0]).ToArray(), Is.EqualTo(new byte[] { 0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3, 4 }));
        });
    }

    [Test]
    public void ReadsTheFieldsOfAHandWrittenElf64Image()
    {
        ElfImage e = ElfImage.Parse(Elf64Literal);
        Assert.Multiple(() =>
        {
            Assert.That(e.Class, Is.EqualTo(ElfClass.Elf64));
            Assert.That(e.Machine, Is.EqualTo(ElfMachine.AArch64));
            Assert.That(e.Entry, Is.EqualTo(0x1_0000_0040UL));
            Assert.That(e.Segments, Is.EqualTo(new[] { new ElfSegment(0, SegmentLoad, 120, 0x1_0000_0000, 0x1_0000_1000, 4, 32, FlagRead | FlagWrite, 8) }));
            Assert.That(e.Segments[0].FlagsText, Is.EqualTo("RW-"));
        });
    }

    [TestCase(ElfClass.Elf32)]
    [TestCase(ElfClass.Elf64)]
    public void ReadsSegmentsAndNamedSectionsOfABuiltImage(ElfClass elfClass)
    {
        byte[] table = new ResourceTableBuilder().Trace(0x2000_8000, 0x400, "trace0").Build();
        byte[] data = [.. new byte[0x40], .. table];
        byte[] bytes = new ElfBuilder(elfClass, ElfMachine.Arm, entry: 0x1000_0101)
            .Segment(0x1000_0000, [1, 2, 3, 4, 5, 6, 7, 8])
            .Segment(0x2000_0000, data, memSize: 0x1000, flags: FlagRead | FlagWrite)
            .SectionInSegment(".text", 0, 0, 8)
            .SectionInSegment(ResourceTableSection.SectionName, 1, 0x40, table.Length)
            .NoBits(".bss", 0x2000_0000 + (ulong)data.Length, 0x100)
            .Section(".comment", "GCC\0"u8.ToArray())
            .Build().Bytes;

        ElfImage e = ElfImage.Parse(bytes);
        Assert.That(e.Class, Is.EqualTo(elfClass));
        Assert.That(e.Segments.Select(s => (s.PhysicalAddress, s.FileSize, s.MemorySize)),
            Is.EqualTo(new[] { (0x1000_0000UL, 8UL, 8UL), (0x2000_0000UL, (ulong)data.Length, 0x1000UL) }));
        Assert.That(e.Sections.Select(s => s.Name), Is.EqualTo(new[] { "", ".text", ".resource_table", ".bss", ".comment", ".shstrtab" }));
        ElfSection rsc = e.FindSection(".resource_table")!;
        Assert.That(e.SectionBytes(rsc).ToArray(), Is.EqualTo(table));
        Assert.That(e.SectionBytes(e.FindSection(".bss")!).Length, Is.Zero, "SHT_NOBITS has no file bytes");
        Assert.That(e.FindSection(".data"), Is.Null);

        ResourceTableSection found = ResourceTableSection.Find(e)!;
        Assert.That(found, Is.EqualTo(new ResourceTableSection(2, 0x2000_0040, rsc.Offset, (ulong)table.Length)));
    }

    [TestCase(ElfClass.Elf32)]
    [TestCase(ElfClass.Elf64)]
    public void ReadelfAgreesWithOurReaderOnABuiltImage(ElfClass elfClass)
    {
        const string readelf = "/usr/bin/readelf";
        if (!File.Exists(readelf)) Assert.Ignore($"{readelf} is not installed (binutils); the cross-check did not run");
        byte[] bytes = HostileElfTests.Valid(elfClass).Bytes;
        string path = Path.Combine(Path.GetTempPath(), $"ampcan-elf-{Guid.NewGuid():N}.elf");
        File.WriteAllBytes(path, bytes);
        try
        {
            var psi = new System.Diagnostics.ProcessStartInfo(readelf, ["-S", "-l", "-W", path]) { RedirectStandardOutput = true, RedirectStandardError = true };
            using var p = System.Diagnostics.Process.Start(psi)!;
            string output = p.StandardOutput.ReadToEnd(), errors = p.StandardError.ReadToEnd();
            Assert.That(p.WaitForExit(30_000) && p.ExitCode == 0, Is.True, errors);
            Assert.That(errors, Is.Empty, "readelf has no warning about the builder's images");
            ElfImage e = ElfImage.Parse(bytes);
            foreach (ElfSection s in e.Sections.Skip(1))
                Assert.That(output, Does.Match($@"\[\s*{s.Index}\]\s+{System.Text.RegularExpressions.Regex.Escape(s.Name)}\s"));
            Assert.That(output.Split('\n').Count(l => l.TrimStart().StartsWith("LOAD", StringComparison.Ordinal)), Is.EqualTo(e.Segments.Count));
        }
        finally { File.Delete(path); }
    }

    [Test]
    public void LoadPrefixesErrorsWithThePath()
    {
        string path = Path.Combine(Path.GetTempPath(), $"ampcan-elf-{Guid.NewGuid():N}.elf");
        File.WriteAllBytes(path, Elf32Literal[..40]);
        try
        {
            var e = Assert.Throws<FirmwareException>(() => ElfImage.Load(path));
            Assert.That(e!.Message, Is.EqualTo($"{path}: file of 40 bytes is shorter than the 52-byte ELF32 header"));
        }
        finally { File.Delete(path); }
    }

    [Test]
    public void LoadRefusesWhatIsNotARegularFileBeforeOpeningIt()
    {
        Assert.That(Assert.Throws<FirmwareException>(() => ElfImage.Load("/dev/zero"))!.Message, Does.Contain("/dev/zero: is empty or not a regular file"));
        Assert.That(Assert.Throws<FirmwareException>(() => ElfImage.Load(Path.GetTempPath()))!.Message, Does.Contain("is a directory"));
        Assert.That(Assert.Throws<FirmwareException>(() => ElfImage.Load("/nonexistent/fw.elf"))!.Message, Does.Contain("does not exist"));
        string path = Path.Combine(Path.GetTempPath(), $"ampcan-elf-{Guid.NewGuid():N}.elf");
        File.WriteAllBytes(path, Elf32Literal);
        try
        {
            Assert.That(Assert.Throws<FirmwareException>(() => ElfImage.Load(path, maxBytes: 64))!.Message, Does.Contain("over the limit of 64"));
        }
        finally { File.Delete(path); }
    }

    internal static byte[] Literal32 => (byte[])Elf32Literal.Clone();
}

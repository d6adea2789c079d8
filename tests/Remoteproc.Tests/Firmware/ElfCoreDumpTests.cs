using System.Diagnostics;
using AmpCan.Remoteproc.Firmware;
using AmpCan.SharedMem;
using static AmpCan.Remoteproc.Firmware.Wire.ElfLayout;

namespace AmpCan.Tests.Remoteproc.Firmware;

public class ElfCoreDumpTests
{
    private const string Readelf = "/usr/bin/readelf";
    private MappedRegion _flash = null!, _sram = null!;

    [SetUp]
    public void SetUp()
    {
        _flash = MappedRegion.CreateMemfd("flash", 0x1000, 0x1000_0000);
        _sram = MappedRegion.CreateMemfd("sram", 0x800, 0x2000_0000);
        for (int i = 0; i < 0x1000; i++) _flash.Io.WriteU8((ulong)i, (byte)(i * 7));
        for (int i = 0; i < 0x800; i++) _sram.Io.WriteU8((ulong)i, (byte)(255 - i));
    }

    [TearDown]
    public void TearDown()
    {
        _flash.Dispose();
        _sram.Dispose();
    }

    private CoreDumpSegment[] Segments => [new(0x1000_0000, _flash.Io), new(0x2000_0000, _sram.Io)];

    private static byte[] Dump(ushort machine, ulong entry, IReadOnlyList<CoreDumpSegment> segments)
    {
        using var s = new MemoryStream();
        ElfCoreDump.Write(s, machine, entry, segments);
        return s.ToArray();
    }

    [Test]
    public void OurReaderReadsTheCoreBack()
    {
        ElfImage core = ElfImage.Parse(Dump(ElfMachine.Arm, 0x1000_0101, Segments));
        Assert.Multiple(() =>
        {
            Assert.That(core.Class, Is.EqualTo(ElfClass.Elf32), "every address fits in 32 bits");
            Assert.That(core.Type, Is.EqualTo(TypeCore));
            Assert.That(core.Machine, Is.EqualTo(ElfMachine.Arm));
            Assert.That(core.Entry, Is.EqualTo(0x1000_0101UL));
            Assert.That(core.Sections, Is.Empty);
            Assert.That(core.Segments.Select(s => (s.Type, s.PhysicalAddress, s.VirtualAddress, s.FileSize, s.MemorySize, s.FlagsText)), Is.EqualTo(new[]
            {
                (SegmentLoad, 0x1000_0000UL, 0x1000_0000UL, 0x1000UL, 0x1000UL, "RWX"),
                (SegmentLoad, 0x2000_0000UL, 0x2000_0000UL, 0x800UL, 0x800UL, "RWX"),
            }));
            Assert.That(core.SegmentBytes(core.Segments[0]).ToArray(), Is.EqualTo(_flash.Io.GetSpan(0, 0x1000).ToArray()));
            Assert.That(core.SegmentBytes(core.Segments[1]).ToArray(), Is.EqualTo(_sram.Io.GetSpan(0, 0x800).ToArray()));
            Assert.That(core.Segments[0].Offset, Is.EqualTo((ulong)(Header32Size + 2 * ProgramHeader32Size)), "data right after the headers, as Linux lays it");
        });
    }

    [Test]
    public void AnAddressPast4GiBMakesItElf64()
    {
        using var high = MappedRegion.CreateMemfd("ddr", 0x100, 0x8_0000_0000);
        CoreDumpSegment[] segments = [.. Segments, new(0x8_0000_0000, high.Io)];
        Assert.That(ElfCoreDump.ChooseClass(0, segments), Is.EqualTo(ElfClass.Elf64));
        ElfImage core = ElfImage.Parse(Dump(ElfMachine.AArch64, 0, segments));
        Assert.That(core.Class, Is.EqualTo(ElfClass.Elf64));
        Assert.That(core.Segments[2].PhysicalAddress, Is.EqualTo(0x8_0000_0000UL));
        Assert.That(ElfCoreDump.ChooseClass(0x1_0000_0000, Segments), Is.EqualTo(ElfClass.Elf64), "an entry past 4 GiB too");
        using var top = MappedRegion.CreateMemfd("top", 0x1000, 0xFFFF_F000);
        Assert.That(ElfCoreDump.ChooseClass(0, [new(0xFFFF_F000, top.Io)]), Is.EqualTo(ElfClass.Elf32), "a region ending exactly at 4 GiB fits");
    }

    [TestCase(false)]
    [TestCase(true)]
    public void ReadelfListsThePtLoadHeaders(bool high)
    {
        if (!File.Exists(Readelf)) Assert.Ignore($"{Readelf} is not installed (binutils); the readelf check did not run");
        using var ddr = MappedRegion.CreateMemfd("ddr", 0x100, 0x8_0000_0000);
        CoreDumpSegment[] segments = high ? [.. Segments, new(0x8_0000_0000, ddr.Io)] : Segments;
        string path = Path.Combine(Path.GetTempPath(), $"ampcan-core-{Guid.NewGuid():N}.core");
        File.WriteAllBytes(path, Dump(ElfMachine.Arm, 0x1000_0101, segments));
        try
        {
            var psi = new ProcessStartInfo(Readelf, ["-h", "-l", "-W", path]) { RedirectStandardOutput = true, RedirectStandardError = true };
            using Process p = Process.Start(psi)!;
            string output = p.StandardOutput.ReadToEnd();
            string errors = p.StandardError.ReadToEnd();
            Assert.That(p.WaitForExit(30_000), Is.True);
            Assert.That(p.ExitCode, Is.Zero, errors);
            Assert.That(errors, Is.Empty, "readelf found nothing to warn about");
            Assert.That(output, Does.Contain(high ? "ELF64" : "ELF32").And.Contain("CORE (Core file)").And.Match(@"Entry point address:\s+0x10000101"));
            string[] loads = [.. output.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("LOAD", StringComparison.Ordinal))];
            // readelf -l -W: Type Offset VirtAddr PhysAddr FileSiz MemSiz Flg Align
            var fields = loads.Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Select(f => (Virt: Hex(f[2]), Phys: Hex(f[3]), File: Hex(f[4]), Mem: Hex(f[5]), Flags: f[6])).ToArray();
            var expected = new List<(ulong, ulong, ulong, ulong, string)> { (0x1000_0000, 0x1000_0000, 0x1000, 0x1000, "RWE"), (0x2000_0000, 0x2000_0000, 0x800, 0x800, "RWE") };
            if (high) expected.Add((0x8_0000_0000, 0x8_0000_0000, 0x100, 0x100, "RWE"));
            Assert.That(fields, Is.EqualTo(expected));
        }
        finally { File.Delete(path); }
    }

    private static ulong Hex(string s) => Convert.ToUInt64(s, 16);

    [Test]
    public void RefusesNoSegmentsAndOverlappingOnes()
    {
        Assert.Throws<ArgumentException>(() => Dump(ElfMachine.Arm, 0, []));
        var e = Assert.Throws<ArgumentException>(() => Dump(ElfMachine.Arm, 0, [new(0x1000_0000, _flash.Io), new(0x1000_0800, _sram.Io)]));
        Assert.That(e!.Message, Does.Contain("overlap"));
    }
}

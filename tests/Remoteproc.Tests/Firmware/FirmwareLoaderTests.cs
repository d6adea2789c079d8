using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Firmware;
using AmpCan.SharedMem;
using static AmpCan.Remoteproc.Firmware.Wire.ElfLayout;
using static AmpCan.Tests.Remoteproc.Firmware.GuardedMemory;

namespace AmpCan.Tests.Remoteproc.Firmware;

[TestFixture(ElfClass.Elf32)]
[TestFixture(ElfClass.Elf64)]
public class FirmwareLoaderTests(ElfClass elfClass)
{
    private GuardedMemory _memory = null!;

    [SetUp]
    public void SetUp() => _memory = new GuardedMemory();

    [TearDown]
    public void TearDown() => _memory.Dispose();

    private BuiltElf Valid() => HostileElfTests.Valid(elfClass);

    [Test]
    public void SegmentsLandAtTheirDeviceAddressesWithBssZeroed()
    {
        BuiltElf elf = Valid();
        ElfImage image = ElfImage.Parse(elf.Bytes);
        byte[] table = image.SectionBytes(image.FindSection(".resource_table")!).ToArray();

        LoadedFirmware loaded = FirmwareLoader.Load(image, _memory.Map);

        Assert.That(loaded.Entry, Is.EqualTo(0x1000_0001UL));
        Assert.That(loaded.Segments, Is.EqualTo(new[]
        {
            new LoadedSegment(0, FlashAddress, 64, 64, "flash", 0),
            new LoadedSegment(1, SramAddress, (ulong)table.Length, 0x800, "sram", 0),
        }));
        Assert.That(_memory.Flash.GetSpan(0, 64).ToArray(), Is.EqualTo(Enumerable.Range(1, 64).Select(i => (byte)i).ToArray()));
        Assert.That(_memory.Flash.ReadU8(64), Is.EqualTo(Canary), "nothing past p_memsz");
        Assert.That(_memory.Sram.GetSpan(0, table.Length).ToArray(), Is.EqualTo(table));
        Assert.That(_memory.Sram.GetSpan((ulong)table.Length, 0x800 - table.Length).ContainsAnyExcept((byte)0), Is.False, "p_memsz - p_filesz bytes zeroed");
        Assert.That(_memory.Sram.ReadU8(0x800), Is.EqualTo(Canary), "nothing past p_memsz");
        Assert.That(_memory.GuardsIntact(), Is.True);
    }

    [Test]
    public void TheLoadedResourceTableIsFoundAtItsSectionAddressAndParses()
    {
        LoadedFirmware loaded = FirmwareLoader.Load(ElfImage.Parse(Valid().Bytes), _memory.Map);
        ResourceTableSection rsc = loaded.ResourceTable!;
        Assert.That(rsc.DeviceAddress, Is.EqualTo(SramAddress));
        ResourceTable table = ResourceTable.Parse(_memory.Map.Window(rsc.DeviceAddress, rsc.Size));
        Assert.That(table.Traces.Single(), Is.EqualTo(new TraceResource(0, 0x2000_8000, 0x400, "trace0")));
    }

    [Test]
    public void DeviceMemoryWindowsAreFilledAndZeroedToo()
    {
        var map = new MemoryMap(_memory.Flash.AsDeviceMemory(), _memory.Sram.AsDeviceMemory());
        FirmwareLoader.Load(ElfImage.Parse(Valid().Bytes), map);
        Assert.That(_memory.Sram.GetSpan(0x100, 0x700).ContainsAnyExcept((byte)0), Is.False);
        Assert.That(_memory.Flash.ReadU8(63), Is.EqualTo(64));
    }

    [Test]
    public void ASegmentOutsideTheMapRefusesTheWholeImageBeforeAnyByteIsWritten()
    {
        BuiltElf elf = Valid().Ph(1, Phdr32MemSz, Phdr64MemSz, WindowSize + 1); // segment 0 fits; segment 1 runs into the guard
        var e = Assert.Throws<FirmwareException>(() => FirmwareLoader.Load(ElfImage.Parse(elf.Bytes), _memory.Map));
        Assert.That(e!.Message, Does.StartWith("program header 1 (PT_LOAD): device range p_paddr 0x20000000 + p_memsz 0x1001 is not inside one window of the memory map")
            .And.Contain("flash 0x10000000+0x1000, sram 0x20000000+0x1000"));
        Assert.That(_memory.Untouched(), Is.True, "segment 0 was not written either");
    }

    [Test]
    public void AResourceTableOutsideTheMapIsRefusedBeforeAnyByteIsWritten()
    {
        BuiltElf elf = Valid().Sh(1, Shdr32Addr, Shdr64Addr, 0x3000_0000);
        var e = Assert.Throws<FirmwareException>(() => FirmwareLoader.Load(ElfImage.Parse(elf.Bytes), _memory.Map));
        Assert.That(e!.Message, Does.StartWith("section 1 (.resource_table): device range sh_addr 0x30000000"));
        Assert.That(_memory.Untouched(), Is.True);
    }

    [Test]
    public void AnImageWithNothingToLoadIsRefused()
    {
        byte[] bytes = new ElfBuilder(elfClass).Segment(0x1000_0000, [1, 2, 3], segmentType: SegmentNote).Segment(0x5000_0000, [], memSize: 0).Build().Bytes;
        var e = Assert.Throws<FirmwareException>(() => FirmwareLoader.Load(ElfImage.Parse(bytes), _memory.Map));
        Assert.That(e!.Message, Does.StartWith("no PT_LOAD segment has bytes to load"));
    }

    [Test]
    public void ZeroSizeSegmentsAreSkippedWhereverTheyPoint()
    {
        byte[] bytes = new ElfBuilder(elfClass).Segment(0x1000_0000, [9, 9]).Segment(0x7000_0000, [], memSize: 0).Build().Bytes;
        LoadedFirmware loaded = FirmwareLoader.Load(ElfImage.Parse(bytes), _memory.Map);
        Assert.That(loaded.Segments.Select(s => s.SegmentIndex), Is.EqualTo(new[] { 0 }));
        Assert.That(loaded.ResourceTable, Is.Null);
    }

    // Found by the fuzzer (seed 1Jwav_etW3N1): a BSS-only PT_LOAD (p_filesz 0) may give any p_offset, past the file too;
    // the loader took its file bytes with that offset and threw ArgumentOutOfRangeException instead of zeroing it.
    [Test]
    public void ABssOnlySegmentWhoseOffsetIsPastTheFileIsZeroed()
    {
        BuiltElf elf = Valid();
        int bss = elf.Bytes.Length; // the valid image's second segment: make it file-less, its offset past the end
        elf.Ph(1, Phdr32FileSz, Phdr64FileSz, 0).Ph(1, Phdr32Offset, Phdr64Offset, (ulong)bss + 0x1000);
        ElfImage image = ElfImage.Parse(elf.Bytes);
        Assert.That(image.SegmentBytes(image.Segments[1]).Length, Is.Zero);
        TestDelegate load = () =>
        {
            try { FirmwareLoader.Load(image, _memory.Map); }
            catch (FirmwareException) { } // a refusal naming the problem is fine; any other exception is the bug
        };
        Assert.That(load, Throws.Nothing);
    }
}

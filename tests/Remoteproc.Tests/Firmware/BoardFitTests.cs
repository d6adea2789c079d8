using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Boards;
using AmpCan.Remoteproc.Firmware;

namespace AmpCan.Tests.Remoteproc.Firmware;

public class BoardFitTests
{
    // The sim board's shared memory: 0x30000000, 1 MiB.
    private static BoardDescriptor Sim => BoardDescriptor.Load(Path.Combine(AppContext.BaseDirectory, "boards", "sim.json"));

    private static ElfImage Image(ulong paddr, int bytes, ulong memSize, ulong tableAt = 0x3000_1000)
    {
        byte[] table = new ResourceTableBuilder().Trace(0x3000_8000, 0x100, "trace0").Build();
        return ElfImage.Parse(new ElfBuilder(ElfClass.Elf32)
            .Segment(tableAt, table)
            .Segment(paddr, new byte[bytes], memSize)
            .SectionInSegment(ResourceTableSection.SectionName, 0, 0, table.Length)
            .Build().Bytes);
    }

    [Test]
    public void ASegmentEndingAtTheWindowsLastByteFits()
    {
        BoardFit fit = BoardFit.Check(Image(0x300F_F000, 0x10, 0x1000), Sim);
        Assert.That(fit.Fits, Is.True);
        Assert.That(fit.Ranges.Select(r => r.What), Is.EqualTo(new[] { "program header 0 (PT_LOAD)", "program header 1 (PT_LOAD)", "section 1 (.resource_table)" }));
        Assert.That((fit.Board, fit.WindowAddress, fit.WindowSize), Is.EqualTo(("sim", 0x3000_0000UL, 0x10_0000UL)));
    }

    [TestCase(0x300F_F000UL, 0x1001UL, Description = "one byte past the end, counting BSS")]
    [TestCase(0x2FFF_FFF0UL, 0x20UL, Description = "starts below the window")]
    [TestCase(0x0800_0000UL, 0x10UL, Description = "flash the board does not have")]
    public void ASegmentNotWhollyInsideIsNamed(ulong paddr, ulong memSize)
    {
        BoardFit fit = BoardFit.Check(Image(paddr, 0x10, memSize), Sim);
        Assert.That(fit.Fits, Is.False);
        Assert.That(fit.Ranges.Single(r => !r.Fits), Is.EqualTo(new RangeFit("program header 1 (PT_LOAD)", paddr, memSize, false)));
    }
}

using AmpCan.Remoteproc;
using AmpCan.SharedMem;
using AmpCan.Vring;

namespace AmpCan.Tests.Remoteproc;

/// <summary>
/// A real cross-compiled image: tests/firmware/cortex-m built by Debian's gcc-arm-none-eabi for STM32MP157's
/// Cortex-M4. binutils say where its segments and sections are; AmpCan's resource-table parser reads the table the
/// compiler laid out, and must find what resource_table.c wrote, at the addresses nm gives.
/// </summary>
public class CortexMFirmwareTests
{
    // stm32mp15-m4.ld: RETRAM as the M4 sees it (device address 0, pa 0x38000000) and mcuram2 (0x10000000).
    private const ulong RetramDa = 0x0000_0000, RetramSize = 0x1_0000;
    private const ulong McuSramDa = 0x1000_0000, McuSramSize = 0x4_0000;

    private string _image = "";

    [OneTimeSetUp]
    public void BuildFirmware() => _image = CortexMFirmware.Build();

    [Test]
    public void LoadSegmentsSitInRetramAndMcuSram()
    {
        List<ReadelfSegment> load = [.. ArmBinutils.Segments(_image).Where(s => s.Type == "LOAD")];
        Assert.That(load, Has.Count.EqualTo(2), "one segment for code, one for data: " + string.Join("; ", load));
        ReadelfSegment code = load.Single(s => s.Flags.Contains('E')), data = load.Single(s => s.Flags.Contains('W'));
        Assert.Multiple(() =>
        {
            // remoteproc loads a segment at its physical address taken as a device address: both must be the link address.
            Assert.That(code.PhysicalAddress, Is.EqualTo(RetramDa), "vector table and code at device address 0, where the M4 boots");
            Assert.That(code.VirtualAddress, Is.EqualTo(code.PhysicalAddress));
            Assert.That(code.Flags, Is.EqualTo("R E"));
            Assert.That(code.MemorySize, Is.InRange(1UL, RetramSize));
            Assert.That(data.PhysicalAddress, Is.EqualTo(McuSramDa), "resource table and data at mcuram2's base");
            Assert.That(data.VirtualAddress, Is.EqualTo(data.PhysicalAddress));
            Assert.That(data.Flags, Is.EqualTo("RW"));
            Assert.That(data.MemorySize, Is.GreaterThan(data.FileSize), "the trace buffer is .bss: memory the loader zeroes past the file's bytes");
            Assert.That(data.MemorySize, Is.LessThanOrEqualTo(McuSramSize));
        });
    }

    [Test]
    public void SectionsPutTheVectorsAtZeroAndTheResourceTableAtMcuSram()
    {
        Dictionary<string, ReadelfSection> sections = ArmBinutils.Sections(_image).ToDictionary(s => s.Name);
        NmSymbol table = ArmBinutils.Symbols(_image)["resource_table"];
        Assert.That(sections, Does.ContainKey(".resource_table").And.ContainKey(".isr_vector"));
        Assert.Multiple(() =>
        {
            Assert.That(sections[".isr_vector"].Address, Is.EqualTo(RetramDa));
            Assert.That(sections[".resource_table"].Type, Is.EqualTo("PROGBITS"));
            Assert.That(sections[".resource_table"].Flags, Is.EqualTo("WA"), "allocated and writable: the host writes features, status and vring addresses into it");
            Assert.That(sections[".resource_table"].Address, Is.EqualTo(McuSramDa));
            Assert.That(sections[".resource_table"].Size, Is.LessThanOrEqualTo(1024UL), "STM32MP15's remoteproc maps 1 KiB of it (RSC_TBL_SIZE)");
            Assert.That(table.Address, Is.EqualTo(McuSramDa), "the section holds the resource_table object and nothing before it");
            Assert.That(table.Size, Is.EqualTo(sections[".resource_table"].Size));
        });
    }

    [Test]
    public void VectorTableStartsTheResetHandlerWithTheStackAtTheTopOfMcuSram()
    {
        byte[] vectors = ArmBinutils.SectionBytes(_image, ".isr_vector");
        IReadOnlyDictionary<string, NmSymbol> symbols = ArmBinutils.Symbols(_image);
        Assert.That(vectors, Has.Length.EqualTo(16 * 4), "initial SP and the 15 Armv7-M system exception vectors");
        uint sp = BitConverter.ToUInt32(vectors, 0), reset = BitConverter.ToUInt32(vectors, 4);
        Assert.Multiple(() =>
        {
            Assert.That(sp, Is.EqualTo(McuSramDa + McuSramSize), "the stack grows down from the end of mcuram2");
            Assert.That(sp, Is.EqualTo(symbols["__stack_top"].Address));
            // A Cortex-M runs Thumb only: a vector without bit 0 set faults on the first instruction.
            Assert.That(reset, Is.EqualTo(symbols["reset_handler"].Address | 1));
            Assert.That(ArmBinutils.EntryPoint(_image), Is.EqualTo(reset), "e_entry is the reset vector");
        });
    }

    [Test]
    public void AmpCanReadsTheResourceTableTheCompilerLaidOut()
    {
        ReadelfSection section = ArmBinutils.Sections(_image).Single(s => s.Name == ".resource_table");
        byte[] bytes = ArmBinutils.SectionBytes(_image, ".resource_table");
        Assert.That((ulong)bytes.Length, Is.EqualTo(section.Size));
        NmSymbol trace = ArmBinutils.Symbols(_image)["trace_buffer"];

        using var shm = MappedRegion.CreateMemfd("cm4-resource-table", 0x1000, section.Address);
        shm.Io.Write(0, bytes);
        // Exactly the section's bytes: an entry that ran past the section would be refused.
        ResourceTable table = ResourceTable.Parse(shm.Io.Slice(0, (ulong)bytes.Length));

        Assert.Multiple(() =>
        {
            Assert.That(table.Vdevs, Has.Count.EqualTo(1));
            Assert.That(table.Traces, Has.Count.EqualTo(1));
            Assert.That(table.Carveouts, Is.Empty);
            Assert.That(table.Skipped, Is.Empty);
        });
        VdevResource rpmsg = table.Vdevs[0];
        Assert.Multiple(() =>
        {
            // What resource_table.c writes; the offset is where the kernel's layout puts the first entry.
            Assert.That(rpmsg.Offset, Is.EqualTo(24UL), "after the 16-byte header and two 4-byte offsets");
            Assert.That(rpmsg.DeviceId, Is.EqualTo(7u), "VIRTIO_ID_RPMSG");
            Assert.That(rpmsg.NotifyId, Is.EqualTo(2u));
            Assert.That(rpmsg.DeviceFeatures, Is.EqualTo(1UL), "VIRTIO_RPMSG_F_NS (bit 0) and nothing else");
            Assert.That(rpmsg.DriverFeatures, Is.Zero, "the host has not accepted anything yet");
            Assert.That(rpmsg.Status, Is.EqualTo(default(VirtioStatus)));
            Assert.That(rpmsg.ConfigLength, Is.Zero);
            Assert.That(rpmsg.QueueCount, Is.EqualTo(2));
            // STM32MP157C-DK2's vdev0vring0@10040000 and vdev0vring1@10041000; notify ids are IPCC channels vq0, vq1.
            Assert.That(rpmsg.Vring(0), Is.EqualTo(new VringResource(0, 0x1004_0000, 16, 16, 0)));
            Assert.That(rpmsg.Vring(1), Is.EqualTo(new VringResource(1, 0x1004_1000, 16, 16, 1)));
            Assert.That(trace.Size, Is.Not.Null, "nm gives the trace buffer's size");
            Assert.That(table.Traces[0], Is.EqualTo(new TraceResource(1, (uint)trace.Address, (uint)(trace.Size ?? 0), "cm4_log")),
                "the trace entry names the trace_buffer object: its address and its whole length");
            Assert.That(trace.Address, Is.InRange(McuSramDa, McuSramDa + McuSramSize - (trace.Size ?? 0)));
        });
    }
}

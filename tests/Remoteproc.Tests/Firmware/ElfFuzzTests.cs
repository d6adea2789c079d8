using System.Buffers.Binary;
using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Firmware;
using AmpCan.SharedMem;
using CsCheck;
using static AmpCan.Remoteproc.Firmware.Wire.ElfLayout;
using static AmpCan.Tests.Remoteproc.Firmware.GuardedMemory;

namespace AmpCan.Tests.Remoteproc.Firmware;

/// <summary>
/// Random mutations of valid images: parsing throws nothing but <see cref="FirmwareException"/>, and loading what
/// parses never writes outside the memory map nor outside the image's own PT_LOAD ranges.
/// </summary>
public class ElfFuzzTests
{
    private const int Iterations = 4000;

    // Words that make range checks interesting: 0, the top of each class, a sign bit, and values near the file's size.
    private static readonly ulong[] Interesting = [0, 1, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0xFFFF_FFF0, 0x1_0000_0000, long.MaxValue, ulong.MaxValue, 0xFFFF, 4096];

    private sealed record Mutation(int Position, byte Value, int WordKind, int Interesting);

    private static readonly Gen<(bool Is64, int Segments, int BssBytes, Mutation[] Mutations, int Truncate)> Images =
        Gen.Select(Gen.Bool, Gen.Int[1, 3], Gen.Int[0, 0x200],
            Gen.Select(Gen.Int[0, 4095], Gen.Byte, Gen.Int[0, 3], Gen.Int[0, Interesting.Length - 1], (p, v, k, i) => new Mutation(p, v, k, i)).Array[1, 4],
            Gen.Frequency((4, Gen.Const(-1)), (1, Gen.Int[0, 600]))); // truncated one time in five

    private static byte[] Build(bool is64, int segments, int bssBytes)
    {
        byte[] table = new ResourceTableBuilder().Vdev(7, 0, 1, [new VringSpec(0x2000_0400, 16, 8, 1), new VringSpec(0x2000_0600, 16, 8, 2)]).Trace(0x2000_0800, 0x100, "trace0").Build();
        var b = new ElfBuilder(is64 ? ElfClass.Elf64 : ElfClass.Elf32, entry: FlashAddress | 1)
            .Segment(SramAddress, table, memSize: (ulong)(table.Length + bssBytes), flags: FlagRead | FlagWrite)
            .SectionInSegment(ResourceTableSection.SectionName, 0, 0, table.Length);
        for (int i = 1; i < segments; i++)
            b.Segment(FlashAddress + (ulong)(i - 1) * 0x200, [.. Enumerable.Repeat((byte)(0x10 * i), 0x80)]);
        return b.NoBits(".bss", SramAddress + (ulong)table.Length, (ulong)bssBytes).Build().Bytes;
    }

    private static byte[] Mutate(byte[] valid, Mutation[] mutations, int truncate)
    {
        byte[] f = (byte[])valid.Clone();
        foreach (Mutation m in mutations)
        {
            int at = m.Position % f.Length;
            switch (m.WordKind)
            {
                case 0 or 1: f[at] = m.Value; break; // one byte
                case 2 when at + 4 <= f.Length: BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(at & ~3), (uint)Interesting[m.Interesting]); break;
                case 3 when (at & ~7) + 8 <= f.Length: BinaryPrimitives.WriteUInt64LittleEndian(f.AsSpan(at & ~7), Interesting[m.Interesting]); break;
            }
        }
        return truncate >= 0 && truncate < f.Length ? f[..truncate] : f;
    }

    [Test]
    public void MutatedImagesThrowOnlyFirmwareExceptionAndNeverWriteOutsideTheMap()
    {
        using var memory = new GuardedMemory();
        using var scratch = MappedRegion.CreateMemfd("rsc", 0x1000);
        int parsed = 0, loaded = 0;
        Images.Sample((is64, segments, bss, mutations, truncate) =>
        {
            byte[] file = Mutate(Build(is64, segments, bss), mutations, truncate);
            memory.Fill();
            ElfImage image;
            try { image = ElfImage.Parse(file); }
            catch (FirmwareException) { return true; }
            parsed++;
            try
            {
                LoadedFirmware result = FirmwareLoader.Load(image, memory.Map);
                loaded++;
                // Every changed byte lies in a PT_LOAD range the image declares.
                var ranges = image.Segments.Where(s => s.IsLoad && s.MemorySize != 0).Select(s => (s.PhysicalAddress, s.MemorySize)).ToArray();
                if (memory.ChangedAddresses().Any(a => !ranges.Any(r => a - r.PhysicalAddress < r.MemorySize))) return false;
                if (result.ResourceTable is { } t && t.Size <= scratch.Size)
                {
                    // What `firmware inspect` does with the section's bytes: a bad table is a ResourceTableException.
                    scratch.Io.Write(0, image.SectionBytes(image.Sections[t.SectionIndex]).Span);
                    try { ResourceTable.Parse(scratch.Io.Slice(0, t.Size)); }
                    catch (ResourceTableException) { }
                }
            }
            catch (FirmwareException)
            {
                if (!memory.Untouched()) return false; // a refused image writes nothing
            }
            return memory.GuardsIntact();
        }, iter: Iterations, threads: 1);
        TestContext.Out.WriteLine($"{Iterations} images: {parsed} parsed, {loaded} loaded");
        Assert.That(parsed, Is.GreaterThan(Iterations / 20), "the mutations leave enough images valid to exercise the loader");
        Assert.That(loaded, Is.GreaterThan(0));
    }

    [Test]
    public void RandomBytesAfterAValidIdentThrowOnlyFirmwareException()
    {
        Gen.Select(Gen.Bool, Gen.Byte.Array[0, 400]).Sample((is64, tail) =>
        {
            byte[] file = [0x7F, (byte)'E', (byte)'L', (byte)'F', is64 ? Class64 : Class32, DataLittleEndian, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, .. tail];
            try { ElfImage.Parse(file); }
            catch (FirmwareException) { }
        }, iter: Iterations);
    }
}

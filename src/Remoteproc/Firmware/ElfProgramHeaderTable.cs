using static AmpCan.Remoteproc.Firmware.Wire.ElfLayout;

namespace AmpCan.Remoteproc.Firmware;

/// <summary>Reads the program header table and checks each header against the file and the PT_LOAD segments against each other.</summary>
internal static class ElfProgramHeaderTable
{
    public static IReadOnlyList<ElfSegment> Read(ReadOnlySpan<byte> file, ElfClass elfClass, HeaderTable table)
    {
        var segments = new ElfSegment[table.Count];
        for (int i = 0; i < table.Count; i++)
        {
            var p = new ElfFields(file.Slice(checked((int)table.Offset + i * table.EntrySize), table.EntrySize), elfClass);
            var s = new ElfSegment(i, p.U32(Phdr32Type), p.Word(Phdr32Offset, Phdr64Offset), p.Word(Phdr32VAddr, Phdr64VAddr),
                p.Word(Phdr32PAddr, Phdr64PAddr), p.Word(Phdr32FileSz, Phdr64FileSz), p.Word(Phdr32MemSz, Phdr64MemSz),
                p.U32(p.Is64 ? Phdr64Flags : Phdr32Flags), p.Word(Phdr32Align, Phdr64Align));
            Check(s, file.Length, elfClass);
            segments[i] = s;
        }
        CheckNoOverlap(segments, elfClass);
        return segments;
    }

    private static void Check(ElfSegment s, int fileLength, ElfClass elfClass)
    {
        string at = $"program header {s.Index} ({s.TypeName})";
        // A segment with no file bytes may name any offset (PT_GNU_STACK gives 0); one with bytes must hold them all.
        if (s.FileSize != 0 && !ElfRange.InsideFile(s.Offset, s.FileSize, fileLength))
            throw new FirmwareException($"{at}: p_offset 0x{s.Offset:x} + p_filesz 0x{s.FileSize:x} runs past the end of the 0x{fileLength:x}-byte file");
        if (!s.IsLoad) return; // only PT_LOAD reaches memory; a core's PT_NOTE has p_memsz 0 and bytes in the file
        if (s.FileSize > s.MemorySize)
            throw new FirmwareException($"{at}: p_filesz 0x{s.FileSize:x} is larger than p_memsz 0x{s.MemorySize:x}");
        if (s.MemorySize != 0 && ElfRange.Last(s.PhysicalAddress, s.MemorySize, elfClass) is null)
            throw new FirmwareException($"{at}: p_paddr 0x{s.PhysicalAddress:x} + p_memsz 0x{s.MemorySize:x} runs past the end of {ElfRange.SpaceName(elfClass)}");
    }

    /// <summary>PT_LOAD segments with bytes in memory must not share a device address: one would overwrite the other.</summary>
    private static void CheckNoOverlap(ElfSegment[] segments, ElfClass elfClass)
    {
        ElfSegment[] loads = [.. segments.Where(s => s.IsLoad && s.MemorySize != 0).OrderBy(s => s.PhysicalAddress)];
        for (int i = 1; i < loads.Length; i++)
        {
            ElfSegment a = loads[i - 1], b = loads[i];
            ulong aLast = ElfRange.Last(a.PhysicalAddress, a.MemorySize, elfClass)!.Value;
            if (b.PhysicalAddress <= aLast)
                throw new FirmwareException($"program headers {a.Index} and {b.Index} (PT_LOAD) overlap in device address: p_paddr 0x{a.PhysicalAddress:x} + p_memsz 0x{a.MemorySize:x} covers p_paddr 0x{b.PhysicalAddress:x} of program header {b.Index}");
        }
    }
}

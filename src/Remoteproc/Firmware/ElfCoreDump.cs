using System.Buffers.Binary;
using AmpCan.SharedMem;
using static AmpCan.Remoteproc.Firmware.Wire.ElfLayout;

namespace AmpCan.Remoteproc.Firmware;

/// <summary>
/// Writes an ELF core file of the remote's memory the way Linux's rproc_coredump does
/// (drivers/remoteproc/remoteproc_coredump.c): ET_CORE, the given e_machine, e_entry the boot address, no sections,
/// and one PT_LOAD per memory piece (p_vaddr = p_paddr = device address, p_filesz = p_memsz = its size, flags RWX,
/// p_align 0), the bytes following the headers in order. Like Linux's, it has no PT_NOTE: the remote's registers are
/// unknown to the host, so there is no prstatus to give; gdb and readelf read the memory without one.
/// </summary>
public static class ElfCoreDump
{
    private const int ChunkBytes = 64 << 10;

    /// <summary>ELFCLASS32 when every device address, the entry point and every file offset fit in 32 bits; ELFCLASS64 otherwise.</summary>
    public static ElfClass ChooseClass(ulong entry, IReadOnlyList<CoreDumpSegment> segments)
    {
        ArgumentNullException.ThrowIfNull(segments);
        if (entry > uint.MaxValue) return ElfClass.Elf64;
        ulong fileEnd = Header32Size + (ulong)segments.Count * ProgramHeader32Size;
        foreach (CoreDumpSegment s in segments)
        {
            ulong length = s.Memory.Length;
            if (s.DeviceAddress > uint.MaxValue || length > (1UL << 32) - s.DeviceAddress) return ElfClass.Elf64;
            fileEnd += length;
            if (fileEnd > uint.MaxValue) return ElfClass.Elf64;
        }
        return ElfClass.Elf32;
    }

    /// <summary>Writes the core file to <paramref name="destination"/>; the class is <see cref="ChooseClass"/>'s.</summary>
    /// <exception cref="ArgumentException">No segments, more than <see cref="ElfImage.MaxHeaders"/>, one whose range wraps 2^64, or two that overlap.</exception>
    /// <exception cref="IOException">Writing to <paramref name="destination"/> failed.</exception>
    public static void Write(Stream destination, ushort machine, ulong entry, IReadOnlyList<CoreDumpSegment> segments)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(segments);
        if (segments.Count is 0 or > ElfImage.MaxHeaders)
            throw new ArgumentException($"a core dump has 1 to {ElfImage.MaxHeaders} memory segments, not {segments.Count}", nameof(segments));
        foreach (CoreDumpSegment s in segments)
        {
            if (s.Memory.Length - 1 > ulong.MaxValue - s.DeviceAddress)
                throw new ArgumentException($"segment at 0x{s.DeviceAddress:x} (0x{s.Memory.Length:x} bytes) wraps past 2^64", nameof(segments));
        }
        // Overlapping pieces would give one address two contents; a reader (ours too) refuses such a file.
        CoreDumpSegment[] sorted = [.. segments.Where(s => s.Memory.Length != 0).OrderBy(s => s.DeviceAddress)];
        for (int i = 1; i < sorted.Length; i++)
        {
            if (sorted[i].DeviceAddress - sorted[i - 1].DeviceAddress < sorted[i - 1].Memory.Length)
                throw new ArgumentException($"segments at 0x{sorted[i - 1].DeviceAddress:x} (0x{sorted[i - 1].Memory.Length:x} bytes) and 0x{sorted[i].DeviceAddress:x} overlap", nameof(segments));
        }

        bool is64 = ChooseClass(entry, segments) == ElfClass.Elf64;
        int headerSize = is64 ? Header64Size : Header32Size, phSize = is64 ? ProgramHeader64Size : ProgramHeader32Size;
        byte[] headers = new byte[headerSize + segments.Count * phSize];
        WriteFileHeader(headers, is64, machine, entry, (ushort)segments.Count);
        ulong offset = (ulong)headers.Length;
        for (int i = 0; i < segments.Count; i++)
        {
            Span<byte> ph = headers.AsSpan(headerSize + i * phSize, phSize);
            ulong da = segments[i].DeviceAddress, size = segments[i].Memory.Length;
            U32(ph, Phdr32Type, SegmentLoad);
            U32(ph, is64 ? Phdr64Flags : Phdr32Flags, FlagRead | FlagWrite | FlagExecute);
            Word(ph, is64, Phdr32Offset, Phdr64Offset, offset);
            Word(ph, is64, Phdr32VAddr, Phdr64VAddr, da);
            Word(ph, is64, Phdr32PAddr, Phdr64PAddr, da);
            Word(ph, is64, Phdr32FileSz, Phdr64FileSz, size);
            Word(ph, is64, Phdr32MemSz, Phdr64MemSz, size);
            offset = checked(offset + size);
        }
        destination.Write(headers);

        byte[] chunk = new byte[ChunkBytes];
        foreach (CoreDumpSegment s in segments)
        {
            IoRegion memory = s.Memory;
            for (ulong done = 0; done < memory.Length;)
            {
                int n = (int)Math.Min((ulong)chunk.Length, memory.Length - done);
                memory.Read(done, chunk.AsSpan(0, n)); // device memory is read with aligned scalar loads
                destination.Write(chunk, 0, n);
                done += (ulong)n;
            }
        }
    }

    private static void WriteFileHeader(Span<byte> h, bool is64, ushort machine, ulong entry, ushort phnum)
    {
        Magic.CopyTo(h);
        h[IdentClass] = is64 ? Class64 : Class32;
        h[IdentData] = DataLittleEndian;
        h[IdentVersion] = (byte)VersionCurrent;
        BinaryPrimitives.WriteUInt16LittleEndian(h[HeaderType..], TypeCore);
        BinaryPrimitives.WriteUInt16LittleEndian(h[HeaderMachine..], machine);
        U32(h, HeaderVersion, VersionCurrent);
        Word(h, is64, HeaderEntry, HeaderEntry, entry);
        int headerSize = is64 ? Header64Size : Header32Size;
        Word(h, is64, Header32PhOff, Header64PhOff, (ulong)headerSize); // program headers right after this header
        BinaryPrimitives.WriteUInt16LittleEndian(h[(is64 ? Header64EhSize : Header32EhSize)..], (ushort)headerSize);
        BinaryPrimitives.WriteUInt16LittleEndian(h[(is64 ? Header64PhEntSize : Header32PhEntSize)..], (ushort)(is64 ? ProgramHeader64Size : ProgramHeader32Size));
        BinaryPrimitives.WriteUInt16LittleEndian(h[(is64 ? Header64PhNum : Header32PhNum)..], phnum);
        // e_shoff, e_shentsize, e_shnum and e_shstrndx stay 0: no section headers, as in Linux's dump.
    }

    private static void U32(Span<byte> b, int offset, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(b[offset..], value);

    private static void Word(Span<byte> b, bool is64, int offset32, int offset64, ulong value)
    {
        if (is64) BinaryPrimitives.WriteUInt64LittleEndian(b[offset64..], value);
        else BinaryPrimitives.WriteUInt32LittleEndian(b[offset32..], checked((uint)value));
    }
}

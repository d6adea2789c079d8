using System.Buffers.Binary;
using AmpCan.Remoteproc.Firmware.Wire;

namespace AmpCan.Tests.Host;

/// <summary>
/// A minimal ELF32 Arm firmware image for the command tests: a code segment, a data segment that starts with the
/// resource table (its <c>.resource_table</c> section points there, as a linker script places it), and
/// <c>.shstrtab</c>. (The Remoteproc tests have a general builder; this one is all the command needs.)
/// </summary>
internal static class FirmwareTestImage
{
    public static byte[] Build(uint codeAddress, byte[] code, uint dataAddress, byte[] table, uint bssBytes, uint entry)
    {
        const int eh = ElfLayout.Header32Size, ph = ElfLayout.ProgramHeader32Size, sh = ElfLayout.SectionHeader32Size;
        byte[] names = "\0.text\0.resource_table\0.shstrtab\0"u8.ToArray();
        int codeAt = eh + 2 * ph, tableAt = Align4(codeAt + code.Length), namesAt = tableAt + table.Length, shoff = Align4(namesAt + names.Length);
        byte[] f = new byte[shoff + 4 * sh];
        ElfLayout.Magic.CopyTo(f);
        f[ElfLayout.IdentClass] = ElfLayout.Class32;
        f[ElfLayout.IdentData] = ElfLayout.DataLittleEndian;
        f[ElfLayout.IdentVersion] = 1;
        U16(f, ElfLayout.HeaderType, ElfLayout.TypeExecutable);
        U16(f, ElfLayout.HeaderMachine, 40);
        U32(f, ElfLayout.HeaderVersion, 1);
        U32(f, ElfLayout.HeaderEntry, entry);
        U32(f, ElfLayout.Header32PhOff, eh);
        U32(f, ElfLayout.Header32ShOff, (uint)shoff);
        U16(f, ElfLayout.Header32EhSize, eh);
        U16(f, ElfLayout.Header32PhEntSize, ph);
        U16(f, ElfLayout.Header32PhNum, 2);
        U16(f, ElfLayout.Header32ShEntSize, sh);
        U16(f, ElfLayout.Header32ShNum, 4);
        U16(f, ElfLayout.Header32ShStrNdx, 3);
        Segment(f, eh, codeAt, codeAddress, (uint)code.Length, (uint)code.Length, ElfLayout.FlagRead | ElfLayout.FlagExecute);
        Segment(f, eh + ph, tableAt, dataAddress, (uint)table.Length, (uint)table.Length + bssBytes, ElfLayout.FlagRead | ElfLayout.FlagWrite);
        code.CopyTo(f, codeAt);
        table.CopyTo(f, tableAt);
        names.CopyTo(f, namesAt);
        Section(f, shoff + sh, 1, ElfLayout.SectionProgBits, 6, codeAddress, codeAt, code.Length);
        Section(f, shoff + 2 * sh, 7, ElfLayout.SectionProgBits, 3, dataAddress, tableAt, table.Length);
        Section(f, shoff + 3 * sh, 23, ElfLayout.SectionStringTable, 0, 0, namesAt, names.Length);
        return f;
    }

    private static void Segment(byte[] f, int at, int offset, uint address, uint filesz, uint memsz, uint flags)
    {
        U32(f, at + ElfLayout.Phdr32Type, ElfLayout.SegmentLoad);
        U32(f, at + ElfLayout.Phdr32Offset, (uint)offset);
        U32(f, at + ElfLayout.Phdr32VAddr, address);
        U32(f, at + ElfLayout.Phdr32PAddr, address);
        U32(f, at + ElfLayout.Phdr32FileSz, filesz);
        U32(f, at + ElfLayout.Phdr32MemSz, memsz);
        U32(f, at + ElfLayout.Phdr32Flags, flags);
        U32(f, at + ElfLayout.Phdr32Align, 4);
    }

    private static void Section(byte[] f, int at, uint name, uint type, uint flags, uint address, int offset, int size)
    {
        U32(f, at + ElfLayout.Shdr32Name, name);
        U32(f, at + ElfLayout.Shdr32Type, type);
        U32(f, at + ElfLayout.Shdr32Flags, flags);
        U32(f, at + ElfLayout.Shdr32Addr, address);
        U32(f, at + ElfLayout.Shdr32Offset, (uint)offset);
        U32(f, at + ElfLayout.Shdr32Size, (uint)size);
    }

    private static int Align4(int v) => (v + 3) & ~3;
    private static void U16(byte[] f, int at, int v) => BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(at), (ushort)v);
    private static void U32(byte[] f, int at, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(at), v);
}

using AmpCan.Remoteproc.Firmware;
using AmpCan.Tests.Remoteproc.Firmware;
using static AmpCan.Remoteproc.Firmware.Wire.ElfLayout;

namespace AmpCan.Tests.Host;

/// <summary>
/// A minimal ELF32 Arm firmware image for the command tests: a code segment, a data segment that starts with the
/// resource table (its <c>.resource_table</c> section points there, as a linker script places it), and the BSS after it.
/// </summary>
internal static class FirmwareTestImage
{
    public static byte[] Build(uint codeAddress, byte[] code, uint dataAddress, byte[] table, uint bssBytes, uint entry) =>
        new ElfBuilder(ElfClass.Elf32, entry: entry)
            .Segment(codeAddress, code)
            .Segment(dataAddress, table, memSize: (ulong)table.Length + bssBytes, flags: FlagRead | FlagWrite)
            .SectionInSegment(".text", 0, 0, code.Length)
            .SectionInSegment(".resource_table", 1, 0, table.Length)
            .Build().Bytes;
}

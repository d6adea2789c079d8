using AmpCan.Remoteproc.Firmware.Wire;

namespace AmpCan.Remoteproc.Firmware;

/// <summary>One program header, validated against the file (its file bytes are inside it; for PT_LOAD, filesz &lt;= memsz).</summary>
/// <param name="Index">Position in the program header table.</param>
/// <param name="Type">p_type (PT_LOAD is 1).</param>
/// <param name="Offset">p_offset: where the segment's file bytes start.</param>
/// <param name="VirtualAddress">p_vaddr: the address the code runs at.</param>
/// <param name="PhysicalAddress">p_paddr: the device address remoteproc loads it to.</param>
/// <param name="FileSize">p_filesz: bytes taken from the file.</param>
/// <param name="MemorySize">p_memsz: bytes in memory (the rest past filesz is zeroed: BSS).</param>
/// <param name="Flags">p_flags (PF_X 1, PF_W 2, PF_R 4).</param>
/// <param name="Align">p_align.</param>
public readonly record struct ElfSegment(int Index, uint Type, ulong Offset, ulong VirtualAddress, ulong PhysicalAddress, ulong FileSize,
    ulong MemorySize, uint Flags, ulong Align)
{
    /// <summary>True for PT_LOAD, the only type remoteproc copies into memory.</summary>
    public bool IsLoad => Type == ElfLayout.SegmentLoad;

    /// <summary>The flags as readelf prints them, e.g. <c>R-X</c>.</summary>
    public string FlagsText => string.Concat((Flags & ElfLayout.FlagRead) != 0 ? "R" : "-", (Flags & ElfLayout.FlagWrite) != 0 ? "W" : "-",
        (Flags & ElfLayout.FlagExecute) != 0 ? "X" : "-");

    /// <summary>The type's name (PT_LOAD, PT_NOTE, ...) or its number in hex.</summary>
    public string TypeName => Type switch
    {
        0 => "NULL", 1 => "LOAD", 2 => "DYNAMIC", 3 => "INTERP", 4 => "NOTE", 5 => "SHLIB", 6 => "PHDR", 7 => "TLS",
        0x6474E550 => "GNU_EH_FRAME", 0x6474E551 => "GNU_STACK", 0x6474E552 => "GNU_RELRO", 0x6474E553 => "GNU_PROPERTY", 0x70000001 => "ARM_EXIDX",
        _ => $"0x{Type:x}",
    };
}

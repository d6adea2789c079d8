namespace AmpCan.Remoteproc.Firmware;

/// <summary>Overflow-safe range tests: no sum of two values a file gives is ever computed where it could wrap.</summary>
internal static class ElfRange
{
    /// <summary>True when [<paramref name="offset"/>, +<paramref name="size"/>) lies inside a file of <paramref name="length"/> bytes.</summary>
    public static bool InsideFile(ulong offset, ulong size, int length) => offset <= (ulong)length && size <= (ulong)length - offset;

    /// <summary>
    /// The last address of [<paramref name="start"/>, +<paramref name="size"/>), or null when the range wraps past the
    /// end of the class's address space (4 GiB for ELF32, whose addresses are u32; 2^64 for ELF64). Size must not be 0.
    /// </summary>
    public static ulong? Last(ulong start, ulong size, ElfClass elfClass)
    {
        ulong limit = elfClass == ElfClass.Elf32 ? uint.MaxValue : ulong.MaxValue;
        if (start > limit || size - 1 > limit - start) return null;
        return start + (size - 1);
    }

    /// <summary>"4 GiB" or "2^64": the end of the class's address space, for messages.</summary>
    public static string SpaceName(ElfClass elfClass) => elfClass == ElfClass.Elf32 ? "the 4 GiB (ELF32) address space" : "the 2^64 address space";
}

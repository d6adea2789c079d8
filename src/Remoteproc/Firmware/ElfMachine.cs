namespace AmpCan.Remoteproc.Firmware;

/// <summary>e_machine values of the cores remoteproc drives (Linux include/uapi/linux/elf-em.h; binutils include/elf/common.h for the rest).</summary>
public static class ElfMachine
{
    /// <summary>EM_ARM: 32-bit Arm (Cortex-M, Cortex-R).</summary>
    public const ushort Arm = 40;
    /// <summary>EM_AARCH64: 64-bit Arm.</summary>
    public const ushort AArch64 = 183;
    /// <summary>EM_RISCV.</summary>
    public const ushort RiscV = 243;

    /// <summary>A short name for a machine, e.g. "ARM" for 40, or its number when unknown.</summary>
    public static string Name(ushort machine) => machine switch
    {
        0 => "none",
        3 => "x86 (EM_386)",
        8 => "MIPS",
        20 => "PowerPC",
        21 => "PowerPC64",
        Arm => "ARM",
        62 => "x86-64",
        93 => "ARC (EM_ARC_COMPACT)",
        94 => "Xtensa",
        140 => "TI C6000 DSP",
        144 => "TI PRU",
        164 => "Qualcomm Hexagon (EM_QDSP6)",
        AArch64 => "AArch64",
        189 => "MicroBlaze",
        195 => "ARCv2 (EM_ARC_COMPACT2)",
        RiscV => "RISC-V",
        252 => "C-SKY",
        258 => "LoongArch",
        _ => $"machine {machine}",
    };
}

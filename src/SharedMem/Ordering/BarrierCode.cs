using System.Runtime.InteropServices;

namespace AmpCan.SharedMem.Ordering;

/// <summary>
/// The machine code of the three system barriers for one architecture, as Linux defines <c>mb()</c>,
/// <c>dma_rmb()</c> and <c>dma_wmb()</c> there; each routine is the barrier followed by a return. Empty where the
/// architecture needs no instruction (the CPU's own ordering already is that strong).
/// </summary>
/// <param name="Architecture">The processor architecture these words are for.</param>
/// <param name="Full">mb(): orders every earlier access before every later one, for every observer.</param>
/// <param name="Read">dma_rmb(): orders earlier loads before later loads, outer shareable.</param>
/// <param name="Write">dma_wmb(): orders earlier stores before later stores, outer shareable.</param>
public sealed record BarrierCode(Architecture Architecture, byte[] Full, byte[] Read, byte[] Write)
{
    // Encodings from the Arm Architecture Reference Manuals (DMB/DSB with their CRm option field; RET; BX LR) and
    // Intel's SDM (MFENCE). The instructions Linux emits for each macro: arch/arm64/include/asm/barrier.h
    // (mb = dsb(sy), dma_rmb = dmb(oshld), dma_wmb = dmb(oshst)), arch/arm/include/asm/barrier.h (mb = dsb(sy),
    // dma_rmb = dmb(osh), dma_wmb = dmb(oshst)), arch/x86/include/asm/barrier.h (mb = mfence, dma_rmb/dma_wmb =
    // compiler barriers only: x86 keeps loads with loads and stores with stores for every memory type we map).
    private const uint A64DsbSy = 0xD5033F9F, A64DmbOshld = 0xD50331BF, A64DmbOshst = 0xD50332BF, A64Ret = 0xD65F03C0;
    private const uint A32DsbSy = 0xF57FF04F, A32DmbOsh = 0xF57FF053, A32DmbOshst = 0xF57FF052, A32BxLr = 0xE12FFF1E;

    /// <summary>arm64 (AArch64, little-endian): <c>dsb sy</c>, <c>dmb oshld</c>, <c>dmb oshst</c>, each then <c>ret</c>.</summary>
    public static BarrierCode Arm64 { get; } = new(Architecture.Arm64, Words(A64DsbSy, A64Ret), Words(A64DmbOshld, A64Ret), Words(A64DmbOshst, A64Ret));

    /// <summary>32-bit Arm (ARMv7-A, ARM state): <c>dsb sy</c>, <c>dmb osh</c>, <c>dmb oshst</c>, each then <c>bx lr</c>.</summary>
    public static BarrierCode Arm32 { get; } = new(Architecture.Arm, Words(A32DsbSy, A32BxLr), Words(A32DmbOsh, A32BxLr), Words(A32DmbOshst, A32BxLr));

    /// <summary>x86-64: <c>mfence; ret</c> for the full barrier; the read and write barriers need no instruction.</summary>
    public static BarrierCode X64 { get; } = new(Architecture.X64, [0x0F, 0xAE, 0xF0, 0xC3], [], []);

    /// <summary>The code for <paramref name="architecture"/>, or null where AmpCan has none.</summary>
    public static BarrierCode? For(Architecture architecture) => architecture switch
    {
        Architecture.Arm64 => Arm64,
        Architecture.Arm => Arm32,
        Architecture.X64 => X64,
        _ => null,
    };

    private static byte[] Words(params uint[] words)
    {
        var b = new byte[words.Length * 4];
        for (int i = 0; i < words.Length; i++) System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(i * 4), words[i]);
        return b;
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace AmpCan.SharedMem.Ordering;

/// <summary>
/// Barriers that order memory for every observer in the system, not only this cluster's cores: what a peer outside
/// the inner-shareable domain (a remote Cortex-M/R core) needs, and what .NET's own <c>Interlocked.MemoryBarrier</c>
/// (<c>dmb ish</c> on arm64) and acquire/release accesses (<c>ldar</c>/<c>stlr</c>) do not promise. Each is a call
/// into a few bytes of <see cref="BarrierCode"/> mapped at start-up, without a GC transition.
/// </summary>
public static unsafe class SystemBarriers
{
    private static readonly delegate* unmanaged[SuppressGCTransition]<void> FullCode, ReadCode, WriteCode;

    static SystemBarriers()
    {
        BarrierCode? code = BarrierCode.For(RuntimeInformation.ProcessArchitecture);
        if (code is null)
        {
            Description = $"inner-shareable only: AmpCan has no system barrier code for {RuntimeInformation.ProcessArchitecture}";
            return;
        }
        // One page: full at 0, read at 64, write at 128 (each routine a handful of bytes).
        Span<byte> page = stackalloc byte[192];
        code.Full.CopyTo(page);
        code.Read.CopyTo(page[64..]);
        code.Write.CopyTo(page[128..]);
        byte* p = ExecutableCode.Map(page, out string? why);
        if (p == null)
        {
            Description = $"inner-shareable only: the barrier code could not be mapped executable ({why})";
            return;
        }
        if (code.Full.Length > 0) FullCode = (delegate* unmanaged[SuppressGCTransition]<void>)p;
        if (code.Read.Length > 0) ReadCode = (delegate* unmanaged[SuppressGCTransition]<void>)(p + 64);
        if (code.Write.Length > 0) WriteCode = (delegate* unmanaged[SuppressGCTransition]<void>)(p + 128);
        Available = true;
        Description = code.Architecture switch
        {
            Architecture.Arm64 => "arm64: dsb sy, dmb oshld, dmb oshst",
            Architecture.Arm => "arm: dsb sy, dmb osh, dmb oshst",
            _ => "x86-64: mfence (loads and stores keep their order without an instruction)",
        };
    }

    /// <summary>Whether the system barriers are in place (false: <see cref="Description"/> says why, and the CPU's own barriers stand in).</summary>
    public static bool Available { get; }

    /// <summary>Which instructions the barriers are, or why they are missing; for the service's start-up log.</summary>
    public static string Description { get; }

    /// <summary>Linux's <c>mb()</c>: every access before it is complete, for every observer, before any after it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Full()
    {
        if (FullCode != null) FullCode();
        else Interlocked.MemoryBarrier();
    }

    /// <summary>Linux's <c>dma_rmb()</c>: loads before it are ordered before loads after it, outer shareable.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Read()
    {
        if (ReadCode != null) ReadCode();
        else if (!Available) Interlocked.MemoryBarrier();
    }

    /// <summary>Linux's <c>dma_wmb()</c>: stores before it are ordered before stores after it, outer shareable.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Write()
    {
        if (WriteCode != null) WriteCode();
        else if (!Available) Interlocked.MemoryBarrier();
    }
}

namespace AmpCan.Remoteproc.Boards;

/// <summary>
/// The one notation board messages use for memory: sizes as <c>0x… bytes</c>, ranges as <c>[start, end)</c> in hex,
/// the way board files write them; counts stay decimal.
/// </summary>
internal static class SizeNotation
{
    /// <summary>A byte count, e.g. <c>0x100000 bytes</c>.</summary>
    public static string Bytes(ulong count) => $"0x{count:x} bytes";

    /// <summary>A byte count too large for a u64 (a sum of two u64 fields).</summary>
    public static string Bytes(UInt128 count) => $"0x{count:x} bytes";

    /// <summary>A half-open range; the end is computed without wrapping.</summary>
    public static string Range(ulong start, ulong length) => $"[0x{start:x}, 0x{(UInt128)start + length:x})";
}

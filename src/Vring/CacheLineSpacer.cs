namespace AmpCan.Vring;

/// <summary>
/// A small array a queue allocates after its own hot state, and keeps, so that the next object allocated (often the
/// other side's queue, when both sides live in one process: the simulated remote, the benchmarks) starts at least two
/// cache lines away. Without it the driver's and the device's bookkeeping can share a line, and every round trip pays
/// for it bouncing between the two cores (measured: a third more per busy-polled round trip). The GC's compaction keeps
/// objects in allocation order, so the spacer stays between them.
/// </summary>
internal static class CacheLineSpacer
{
    // Two 64-byte lines (adjacent-line prefetchers move lines in pairs), less the array's own header.
    private const int Bytes = 128 - 16;

    /// <summary>A fresh spacer; keep it in a field of the object whose hot state it guards.</summary>
    public static byte[] Allocate() => new byte[Bytes];
}

using AmpCan.SharedMem;
using AmpCan.SharedMem.Diagnostics;

namespace AmpCan.Remoteproc.Trace;

/// <summary>
/// One trace buffer a remote declared with an RSC_TRACE entry: a window of shared memory the firmware prints text into.
/// <see cref="Snapshot"/> copies it out and finds the text the way Linux's debugfs <c>traceN</c> file shows it
/// (drivers/remoteproc/remoteproc_debugfs.c, <c>rproc_trace_read</c>: the bytes up to the first NUL, at most the
/// entry's length); the remote never sees that it is read.
/// </summary>
public sealed class TraceBuffer
{
    /// <summary>The longest trace buffer followed (1 MiB; firmware declares a few KiB): the reader keeps two copies of it.</summary>
    public const int MaxLength = 1 << 20;

    /// <summary>Wraps <paramref name="region"/> (the whole buffer, 1 to <see cref="MaxLength"/> bytes) as the trace named <paramref name="name"/>.</summary>
    /// <param name="region">Exactly the buffer's bytes.</param>
    /// <param name="name">The entry's name as the table gives it (peer text: escape it to show it).</param>
    /// <param name="index">The entry's position among the table's trace entries (Linux names its debugfs file trace&lt;index&gt;).</param>
    public TraceBuffer(IoRegion region, string name, int index = 0)
    {
        ArgumentNullException.ThrowIfNull(region);
        ArgumentNullException.ThrowIfNull(name);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        if (region.Length is 0 or > MaxLength)
            throw new ArgumentOutOfRangeException(nameof(region), region.Length, $"a trace buffer is 1 to {MaxLength} bytes");
        Region = region;
        Name = name;
        Index = index;
        Length = (int)region.Length;
    }

    /// <summary>The buffer's bytes in shared memory.</summary>
    public IoRegion Region { get; }

    /// <summary>The entry's name as the table gives it: up to 32 bytes the remote chose, not escaped.</summary>
    public string Name { get; }

    /// <summary>The entry's position among the table's trace entries.</summary>
    public int Index { get; }

    /// <summary>The buffer's length in bytes.</summary>
    public int Length { get; }

    /// <summary>The remote's address of the buffer's first byte.</summary>
    public ulong DeviceAddress => Region.DeviceAddress;

    /// <summary>
    /// Maps trace entry <paramref name="trace"/> (the <paramref name="ordinal"/>-th trace entry of its table) through
    /// the remote's memory map. The entry is the remote's word: a range outside the map, an empty one or one longer than
    /// <see cref="MaxLength"/> is refused with an error naming the entry.
    /// </summary>
    /// <exception cref="ResourceTableException">The entry's range cannot be followed; the message says why.</exception>
    public static TraceBuffer Map(MemoryMap memory, TraceResource trace, int ordinal)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(trace);
        string what = $"resource entry {trace.Index} (trace \"{PeerText.Escape(trace.Name)}\", da 0x{trace.DeviceAddress:x}, len 0x{trace.Length:x})";
        if (trace.Length == 0) throw new ResourceTableException($"{what}: the buffer is empty");
        if (trace.Length > MaxLength) throw new ResourceTableException($"{what}: longer than the {MaxLength} bytes a trace is followed for");
        if (!memory.TryTranslate(trace.DeviceAddress, trace.Length, out IoRegion region, out ulong offset))
            throw new ResourceTableException($"{what}: the buffer is not inside the remote's mapped memory");
        return new TraceBuffer(region.Slice(offset, trace.Length), trace.Name, ordinal);
    }

    /// <summary>
    /// Copies the whole buffer into <paramref name="destination"/> (at least <see cref="Length"/> bytes) in one pass and
    /// returns the length of its text: the index of the first NUL, or <see cref="Length"/> when there is none.
    /// </summary>
    /// <remarks>
    /// The remote may be writing meanwhile; the copy is what this pass saw, and everything after works on the copy, so
    /// no value is read twice. Device memory is read with aligned word accesses (<see cref="IoRegion.Read(ulong, Span{byte})"/>).
    /// </remarks>
    public int Snapshot(Span<byte> destination)
    {
        if (destination.Length < Length) throw new ArgumentException($"the snapshot needs {Length} bytes, got {destination.Length}", nameof(destination));
        Span<byte> copy = destination[..Length];
        Region.Read(0, copy);
        int nul = copy.IndexOf((byte)0);
        return nul < 0 ? Length : nul;
    }

    /// <summary>The text Linux's debugfs file would show now (bytes up to the first NUL), as a new array.</summary>
    public byte[] ReadText()
    {
        byte[] copy = new byte[Length];
        int n = Snapshot(copy);
        return copy[..n];
    }

    /// <inheritdoc/>
    public override string ToString() => $"trace {Index} \"{PeerText.Escape(Name)}\" [0x{DeviceAddress:x}+0x{Length:x}]";
}

using AmpCan.SharedMem;

namespace AmpCan.Vring;

/// <summary>One buffer of a chain, validated and resolved to shared memory.</summary>
/// <param name="Region">The window holding the buffer.</param>
/// <param name="Offset">Offset of the buffer in <paramref name="Region"/>.</param>
/// <param name="Length">Length in bytes.</param>
/// <param name="DeviceAddress">The address the driver wrote.</param>
/// <param name="IsWritable">True for device-writable buffers.</param>
public readonly record struct BufferSegment(IoRegion Region, ulong Offset, uint Length, ulong DeviceAddress, bool IsWritable)
{
    /// <summary>A live view of the whole buffer (the driver may change it; copy before you validate).</summary>
    public Span<byte> Span => Region.GetSpan(Offset, checked((int)Length));

    /// <summary>A live view of part of the buffer.</summary>
    public Span<byte> Slice(uint start, int length)
    {
        if (start > Length || (ulong)length > Length - start)
            throw new ArgumentOutOfRangeException(nameof(length), $"{length} bytes at {start} exceed the {Length}-byte buffer");
        return Region.GetSpan(Offset + start, length);
    }
}

/// <summary>
/// A chain popped from the available ring: its head and its segments, readable ones first. The segments live in the
/// queue's scratch space and are valid until the next pop; keep the head (and any segment copied out) for longer.
/// </summary>
public readonly struct DescriptorChain
{
    private readonly BufferSegment[] _segments;

    internal DescriptorChain(ushort head, BufferSegment[] segments, int count, int readableCount, ulong readableBytes, ulong writableBytes)
    {
        Head = head;
        _segments = segments;
        Count = count;
        ReadableCount = readableCount;
        ReadableBytes = readableBytes;
        WritableBytes = writableBytes;
    }

    /// <summary>Index of the head descriptor; give it back with <see cref="SplitVirtqueueDevice.AddUsed"/>.</summary>
    public ushort Head { get; }

    /// <summary>Number of segments.</summary>
    public int Count { get; }

    /// <summary>Number of device-readable segments (they come first).</summary>
    public int ReadableCount { get; }

    /// <summary>Total bytes the device may read.</summary>
    public ulong ReadableBytes { get; }

    /// <summary>Total bytes the device may write.</summary>
    public ulong WritableBytes { get; }

    /// <summary>All segments, readable first.</summary>
    public ReadOnlySpan<BufferSegment> Segments => new(_segments, 0, Count);

    /// <summary>The device-readable segments.</summary>
    public ReadOnlySpan<BufferSegment> Readable => new(_segments, 0, ReadableCount);

    /// <summary>The device-writable segments.</summary>
    public ReadOnlySpan<BufferSegment> Writable => new(_segments, ReadableCount, Count - ReadableCount);
}

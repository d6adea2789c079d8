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
    /// <summary>True when the buffer is in device memory: then it has no span, only <see cref="Read"/> and <see cref="Write"/>.</summary>
    public bool IsDeviceMemory => Region.Attributes == MemoryAttributes.Device;

    /// <summary>A live view of the whole buffer (the driver may change it; copy before you validate). Ordinary memory only.</summary>
    /// <exception cref="InvalidOperationException">The buffer is in device memory (<see cref="IsDeviceMemory"/>).</exception>
    public Span<byte> Span => Region.GetSpan(Offset, checked((int)Length));

    /// <summary>A live view of part of the buffer. Ordinary memory only.</summary>
    /// <exception cref="InvalidOperationException">The buffer is in device memory (<see cref="IsDeviceMemory"/>).</exception>
    public Span<byte> Slice(uint start, int length)
    {
        CheckPart(start, length);
        return Region.GetSpan(Offset + start, length);
    }

    /// <summary>Copies the buffer's bytes from <paramref name="start"/> into <paramref name="destination"/> (device memory word by word, aligned).</summary>
    public void Read(uint start, Span<byte> destination)
    {
        CheckPart(start, destination.Length);
        Region.Read(Offset + start, destination);
    }

    /// <summary>Copies <paramref name="source"/> into the buffer at <paramref name="start"/> (device memory word by word, aligned).</summary>
    public void Write(uint start, ReadOnlySpan<byte> source)
    {
        CheckPart(start, source.Length);
        Region.Write(Offset + start, source);
    }

    private void CheckPart(uint start, int length)
    {
        if (start > Length || length < 0 || (ulong)length > Length - start)
            throw new ArgumentOutOfRangeException(nameof(length), $"{length} bytes at {start} exceed the {Length}-byte buffer");
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

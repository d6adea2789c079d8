using AmpCan.Vring.Wire;

namespace AmpCan.Vring;

/// <summary>Where the three areas of a split ring sit, relative to the start of the legacy ring area.</summary>
/// <param name="QueueSize">Number of descriptors (a power of two, at most 32768).</param>
/// <param name="DescriptorOffset">Offset of the descriptor table.</param>
/// <param name="AvailOffset">Offset of the available ring.</param>
/// <param name="UsedOffset">Offset of the used ring.</param>
/// <param name="TotalSize">Bytes the whole ring occupies.</param>
public readonly record struct VringLayout(int QueueSize, ulong DescriptorOffset, ulong AvailOffset, ulong UsedOffset, ulong TotalSize)
{
    /// <summary>Largest split queue size the spec allows.</summary>
    public const int MaxQueueSize = 32768;

    /// <summary>
    /// The legacy layout of Linux <c>vring_init(num, align)</c> as remoteproc and OpenAMP use it: the available ring
    /// right after the descriptors, the used ring at the next <paramref name="align"/> boundary.
    /// </summary>
    public static VringLayout Legacy(int queueSize, ulong align)
    {
        ValidateQueueSize(queueSize);
        if (align < 4 || (align & (align - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(align), $"vring alignment {align} must be a power of two of at least 4 (the used ring holds 32-bit fields)");
        ulong avail = SplitRingOffsets.DescriptorTableSize(queueSize);
        ulong used = AlignUp(avail + SplitRingOffsets.AvailSize(queueSize), align);
        return new VringLayout(queueSize, 0, avail, used, used + SplitRingOffsets.UsedSize(queueSize));
    }

    /// <summary><c>vring_size(num, align)</c>.</summary>
    public static ulong LegacySize(int queueSize, ulong align) => Legacy(queueSize, align).TotalSize;

    /// <summary>Throws unless <paramref name="queueSize"/> is a power of two between 1 and 32768.</summary>
    public static void ValidateQueueSize(int queueSize)
    {
        if (queueSize < 1 || queueSize > MaxQueueSize || (queueSize & (queueSize - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(queueSize), $"queue size {queueSize} must be a power of two from 1 to {MaxQueueSize}");
    }

    private static ulong AlignUp(ulong v, ulong align) => (v + align - 1) & ~(align - 1);
}

using System.Buffers.Binary;

namespace AmpCan.VirtioCan.SocketCan;

/// <summary>
/// One <c>struct can_filter</c> for CAN_RAW_FILTER (le32 can_id, le32 can_mask: 8 bytes): a frame passes when
/// <c>received_id &amp; Mask == Id &amp; Mask</c>, identifiers compared with their EFF/RTR flag bits; with
/// <see cref="InvertFlag"/> in <see cref="Id"/> it passes when they differ.
/// </summary>
/// <param name="Id">The identifier to match, with CAN_EFF_FLAG / CAN_RTR_FLAG where they matter, and <see cref="InvertFlag"/> to invert.</param>
/// <param name="Mask">The bits of the identifier (and flags) that must match.</param>
public readonly record struct CanFilter(uint Id, uint Mask)
{
    /// <summary>Bytes of one filter.</summary>
    public const int Size = 8;

    /// <summary>CAN_RAW_FILTER_MAX: the most filters one socket takes.</summary>
    public const int MaxCount = 512;

    /// <summary>CAN_INV_FILTER: in <see cref="Id"/>, pass what does not match.</summary>
    public const uint InvertFlag = 0x2000_0000;

    /// <summary>Passes exactly one identifier (of data and remote frames alike): 11-bit, or 29-bit with <paramref name="extended"/>.</summary>
    public static CanFilter Exact(uint id, bool extended = false) => extended
        ? new(id & SocketCanConstants.ExtendedIdMask | SocketCanConstants.ExtendedFlag, SocketCanConstants.ExtendedIdMask | SocketCanConstants.ExtendedFlag)
        : new(id & SocketCanConstants.StandardIdMask, SocketCanConstants.StandardIdMask | SocketCanConstants.ExtendedFlag);

    /// <summary>Writes <paramref name="filters"/> as the option value CAN_RAW_FILTER takes; returns its length (8 per filter).</summary>
    /// <exception cref="ArgumentException">More than <see cref="MaxCount"/> filters, or the destination is too small.</exception>
    public static int Write(ReadOnlySpan<CanFilter> filters, Span<byte> destination)
    {
        if (filters.Length > MaxCount) throw new ArgumentException($"{filters.Length} CAN filters; a raw socket takes at most {MaxCount}", nameof(filters));
        int size = filters.Length * Size;
        if (destination.Length < size) throw new ArgumentException($"{filters.Length} CAN filters take {size} bytes, not {destination.Length}", nameof(destination));
        for (int i = 0; i < filters.Length; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(destination[(i * Size)..], filters[i].Id);
            BinaryPrimitives.WriteUInt32LittleEndian(destination[(i * Size + 4)..], filters[i].Mask);
        }
        return size;
    }
}

namespace AmpCan.Vring.Wire;

/// <summary>
/// Field offsets inside the split ring's areas (virtio 1.x §2.7):
/// <c>virtq_avail { le16 flags @0; le16 idx @2; le16 ring[n] @4; le16 used_event @4+2n }</c> and
/// <c>virtq_used { le16 flags @0; le16 idx @2; virtq_used_elem ring[n] @4; le16 avail_event @4+8n }</c>.
/// </summary>
public static class SplitRingOffsets
{
    /// <summary>Offset of <c>flags</c> in both the available and the used area.</summary>
    public const ulong Flags = 0;
    /// <summary>Offset of <c>idx</c> in both the available and the used area.</summary>
    public const ulong Index = 2;
    /// <summary>Offset of <c>ring[0]</c> in both areas.</summary>
    public const ulong Ring = 4;

    /// <summary>Offset of <c>avail.ring[slot]</c>.</summary>
    public static ulong AvailEntry(int slot) => Ring + 2 * (ulong)slot;

    /// <summary>Offset of <c>used_event</c> (driver-written, after the available ring).</summary>
    public static ulong UsedEvent(int queueSize) => Ring + 2 * (ulong)queueSize;

    /// <summary>Offset of <c>used.ring[slot]</c>.</summary>
    public static ulong UsedEntry(int slot) => Ring + 8 * (ulong)slot;

    /// <summary>Offset of <c>avail_event</c> (device-written, after the used ring).</summary>
    public static ulong AvailEvent(int queueSize) => Ring + 8 * (ulong)queueSize;

    /// <summary>Size of the descriptor table.</summary>
    public static ulong DescriptorTableSize(int queueSize) => 16 * (ulong)queueSize;

    /// <summary>Size of the available area including <c>used_event</c>.</summary>
    public static ulong AvailSize(int queueSize) => 6 + 2 * (ulong)queueSize;

    /// <summary>Size of the used area including <c>avail_event</c>.</summary>
    public static ulong UsedSize(int queueSize) => 6 + 8 * (ulong)queueSize;
}

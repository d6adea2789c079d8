namespace AmpCan.VhostUser.Wire;

/// <summary>
/// The u64 of SET_VRING_KICK/CALL/ERR: bits 0-7 the queue index, bit 8 set when no descriptor comes with the message
/// (no notifications of that kind); the other bits must be zero.
/// </summary>
/// <param name="Index">The queue index.</param>
/// <param name="NoDescriptor">True when the message carries no file descriptor.</param>
public readonly record struct VringFileIndex(int Index, bool NoDescriptor)
{
    /// <summary>VHOST_USER_VRING_IDX_MASK.</summary>
    public const ulong IndexMask = 0xff;

    /// <summary>VHOST_USER_VRING_NOFD_MASK.</summary>
    public const ulong NoDescriptorBit = 0x100;

    /// <summary>Decodes <paramref name="value"/>; false when bits other than the index and no-fd bit are set.</summary>
    public static bool TryDecode(ulong value, out VringFileIndex decoded)
    {
        decoded = new VringFileIndex((int)(value & IndexMask), (value & NoDescriptorBit) != 0);
        return (value & ~(IndexMask | NoDescriptorBit)) == 0;
    }

    /// <summary>The u64 value.</summary>
    public ulong Encode() => (byte)Index | (NoDescriptor ? NoDescriptorBit : 0UL);
}

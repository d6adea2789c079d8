namespace AmpCan.VirtioCan.Wire;

/// <summary>
/// virtio-can feature bit numbers as the spec and the mainline header number them. The 2023 RFC headers (QEMU and
/// rust-vmm forks) swapped RTR_FRAMES and LATE_TX_ACK; these are the fixed values, checked against linux 7.3.4.
/// </summary>
public static class VirtioCanFeatures
{
    /// <summary>Bit 0: classic CAN frames, at most 8 data bytes.</summary>
    public const int CanClassic = 0;

    /// <summary>Bit 1: CAN FD frames, at most 64 data bytes.</summary>
    public const int CanFd = 1;

    /// <summary>Bit 2: remote transmission request frames (classic only; requires <see cref="CanClassic"/>).</summary>
    public const int RtrFrames = 2;

    /// <summary>Bit 3: a transmit is marked used only once the bus has acknowledged it.</summary>
    public const int LateTxAck = 3;

    /// <summary>The mask of one feature bit number.</summary>
    public static ulong Mask(int bit) => 1UL << bit;

    /// <summary>Whether <paramref name="features"/> has feature bit <paramref name="bit"/> set.</summary>
    public static bool Has(ulong features, int bit) => (features & (1UL << bit)) != 0;
}

namespace AmpCan.VirtioCan.Wire;

/// <summary>The <c>le32 flags</c> of a frame header; any other bit is undefined and makes a transmit NOT_OK.</summary>
[Flags]
public enum VirtioCanFlags : uint
{
    /// <summary>A classic data frame with an 11-bit identifier.</summary>
    None = 0,

    /// <summary><c>VIRTIO_CAN_FLAGS_RTR</c>: a remote transmission request (classic only).</summary>
    Rtr = 0x2000,

    /// <summary><c>VIRTIO_CAN_FLAGS_FD</c>: a CAN FD frame.</summary>
    Fd = 0x4000,

    /// <summary><c>VIRTIO_CAN_FLAGS_EXTENDED</c>: a 29-bit identifier.</summary>
    Extended = 0x8000,

    /// <summary>Every bit the spec defines.</summary>
    Defined = Rtr | Fd | Extended,
}

using AmpCan.VirtioCan.Wire;

namespace AmpCan.VirtioCan;

/// <summary>
/// Between a frame header's <c>flags</c> and a <see cref="CanFrame"/>'s <see cref="CanFrameKind"/>: the three flags
/// virtio-can defines (EXTENDED, FD, RTR). What virtio-can cannot carry (BRS, ESI, error frames, echoes) has no flag.
/// </summary>
public static class VirtioCanFrameKinds
{
    /// <summary>The kind a header's flags describe (only the defined flags are looked at).</summary>
    public static CanFrameKind FromFlags(VirtioCanFlags flags) =>
        ((flags & VirtioCanFlags.Extended) != 0 ? CanFrameKind.Extended : 0)
        | ((flags & VirtioCanFlags.Fd) != 0 ? CanFrameKind.Fd : 0)
        | ((flags & VirtioCanFlags.Rtr) != 0 ? CanFrameKind.Remote : 0);

    /// <summary>The header flags of a frame of <paramref name="kind"/> (BRS, ESI, error and echo have none).</summary>
    public static VirtioCanFlags ToFlags(CanFrameKind kind) =>
        ((kind & CanFrameKind.Extended) != 0 ? VirtioCanFlags.Extended : 0)
        | ((kind & CanFrameKind.Fd) != 0 ? VirtioCanFlags.Fd : 0)
        | ((kind & CanFrameKind.Remote) != 0 ? VirtioCanFlags.Rtr : 0);
}

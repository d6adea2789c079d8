namespace AmpCan.RpmsgChar;

/// <summary>poll(2) event bits (asm-generic/poll.h) as rpmsg_eptdev_poll reports them.</summary>
public static class RpmsgCharPollEvents
{
    /// <summary>A message is queued.</summary>
    public const uint In = 0x001;
    /// <summary>Flow-control state changed (never on virtio).</summary>
    public const uint Pri = 0x002;
    /// <summary>A transmit buffer is free (virtio_rpmsg_poll sets EPOLLOUT alone, without EPOLLWRNORM).</summary>
    public const uint Out = 0x004;
    /// <summary>The endpoint is gone.</summary>
    public const uint Err = 0x008;
    /// <summary>Set with <see cref="In"/>.</summary>
    public const uint RdNorm = 0x040;
}

using AmpCan.VhostUser.Wire;
using AmpCan.Vring;

namespace AmpCan.VhostUser;

/// <summary>What a vhost-user back end offers for a device: its virtio features and the protocol features.</summary>
public static class VhostUserFeatures
{
    /// <summary>VHOST_USER_F_PROTOCOL_FEATURES: bit 30 of GET_FEATURES (a reserved virtio bit) says protocol features exist.</summary>
    public const int ProtocolFeatures = 30;

    /// <summary>VIRTIO_F_ACCESS_PLATFORM (IOMMU_PLATFORM): would need the IOTLB messages, not implemented.</summary>
    private const int AccessPlatform = 33;

    /// <summary>VIRTIO_F_NOTIFICATION_DATA: a kick eventfd carries no data.</summary>
    private const int NotificationData = 38;

    /// <summary>VHOST_F_LOG_ALL: migration dirty logging, not implemented.</summary>
    private const int LogAll = 26;

    /// <summary>
    /// Device feature bits this transport cannot serve whatever the device says: packed rings (the ring code is
    /// split-only), ACCESS_PLATFORM, NOTIFICATION_DATA, LOG_ALL, and bit 30, which is the transport's own.
    /// </summary>
    public static readonly ulong Unservable = VirtioRingFeatures.Bit(VirtioRingFeatures.RingPacked) | VirtioRingFeatures.Bit(AccessPlatform)
        | VirtioRingFeatures.Bit(NotificationData) | VirtioRingFeatures.Bit(LogAll) | VirtioRingFeatures.Bit(ProtocolFeatures);

    /// <summary>GET_FEATURES: the device's features this transport can serve, VIRTIO_F_VERSION_1 (QEMU requires it) and bit 30.</summary>
    public static ulong Offered(IVirtioDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        return (device.DeviceFeatures & ~Unservable) | VirtioRingFeatures.Bit(VirtioRingFeatures.Version1) | VirtioRingFeatures.Bit(ProtocolFeatures);
    }

    /// <summary>
    /// GET_PROTOCOL_FEATURES: REPLY_ACK and RESET_DEVICE always; CONFIG and BACKEND_REQ (for config-change messages)
    /// only for a device with config space, since QEMU warns when CONFIG is offered for a device configured without.
    /// Never MQ (the device's queue count is fixed) nor STATUS (the queues' state says when the device runs).
    /// </summary>
    public static VhostUserProtocolFeatures OfferedProtocol(IVirtioDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        VhostUserProtocolFeatures offered = VhostUserProtocolFeatures.ReplyAck | VhostUserProtocolFeatures.ResetDevice;
        if (device.ConfigLength > 0) offered |= VhostUserProtocolFeatures.Config | VhostUserProtocolFeatures.BackendRequests;
        return offered;
    }
}

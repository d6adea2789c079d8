namespace AmpCan.VirtioCan.Wire;

/// <summary>The device id and the queue numbering of virtio-can (virtio 1.4 §5.22, <c>include/uapi/linux/virtio_can.h</c>).</summary>
public static class VirtioCanIds
{
    /// <summary>Virtio device id of a CAN controller.</summary>
    public const uint DeviceId = 36;

    /// <summary>Queue 0: the driver's frames to send (Txq).</summary>
    public const int TxQueue = 0;

    /// <summary>Queue 1: buffers the device fills with received frames (Rxq).</summary>
    public const int RxQueue = 1;

    /// <summary>Queue 2: START and STOP requests (Controlq).</summary>
    public const int ControlQueue = 2;

    /// <summary>How many queues a virtio-can device has.</summary>
    public const int QueueCount = 3;
}

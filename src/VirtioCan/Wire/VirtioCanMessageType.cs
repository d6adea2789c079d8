namespace AmpCan.VirtioCan.Wire;

/// <summary>The <c>le16 msg_type</c> that opens every virtio-can request; values outside these are kept as read.</summary>
public enum VirtioCanMessageType : ushort
{
    /// <summary><c>VIRTIO_CAN_TX</c>: a frame to send, on the Txq.</summary>
    Tx = 0x0001,

    /// <summary><c>VIRTIO_CAN_RX</c>: a received frame, on the Rxq.</summary>
    Rx = 0x0101,

    /// <summary><c>VIRTIO_CAN_SET_CTRL_MODE_START</c>: start the controller, on the Controlq.</summary>
    Start = 0x0201,

    /// <summary><c>VIRTIO_CAN_SET_CTRL_MODE_STOP</c>: stop the controller, on the Controlq.</summary>
    Stop = 0x0202,
}

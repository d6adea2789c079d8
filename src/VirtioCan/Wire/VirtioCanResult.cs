namespace AmpCan.VirtioCan.Wire;

/// <summary>The one-byte outcome of a transmit or control request; the spec treats any other value like <see cref="NotOk"/>.</summary>
public enum VirtioCanResult : byte
{
    /// <summary><c>VIRTIO_CAN_RESULT_OK</c>.</summary>
    Ok = 0,

    /// <summary><c>VIRTIO_CAN_RESULT_NOT_OK</c>.</summary>
    NotOk = 1,
}

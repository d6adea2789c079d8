namespace AmpCan.VhostUser.Wire;

/// <summary>Front-end request codes (QEMU docs/interop/vhost-user.rst, "Front-end message types").</summary>
public enum VhostUserRequest : uint
{
    /// <summary>VHOST_USER_GET_FEATURES: reply u64, the device's virtio features.</summary>
    GetFeatures = 1,
    /// <summary>VHOST_USER_SET_FEATURES: u64, the features the driver accepted.</summary>
    SetFeatures = 2,
    /// <summary>VHOST_USER_SET_OWNER: a session starts.</summary>
    SetOwner = 3,
    /// <summary>VHOST_USER_RESET_OWNER (deprecated): disable all rings.</summary>
    ResetOwner = 4,
    /// <summary>VHOST_USER_SET_MEM_TABLE: memory regions description, one fd per region.</summary>
    SetMemTable = 5,
    /// <summary>VHOST_USER_SET_LOG_BASE (migration logging; not offered).</summary>
    SetLogBase = 6,
    /// <summary>VHOST_USER_SET_LOG_FD (migration logging; not offered).</summary>
    SetLogFd = 7,
    /// <summary>VHOST_USER_SET_VRING_NUM: vring state, the queue size.</summary>
    SetVringNum = 8,
    /// <summary>VHOST_USER_SET_VRING_ADDR: vring address description.</summary>
    SetVringAddr = 9,
    /// <summary>VHOST_USER_SET_VRING_BASE: vring state, the next available index.</summary>
    SetVringBase = 10,
    /// <summary>VHOST_USER_GET_VRING_BASE: stops the ring; reply vring state with the next available index.</summary>
    GetVringBase = 11,
    /// <summary>VHOST_USER_SET_VRING_KICK: u64 index/no-fd, the kick eventfd.</summary>
    SetVringKick = 12,
    /// <summary>VHOST_USER_SET_VRING_CALL: u64 index/no-fd, the call eventfd.</summary>
    SetVringCall = 13,
    /// <summary>VHOST_USER_SET_VRING_ERR: u64 index/no-fd, the error eventfd.</summary>
    SetVringErr = 14,
    /// <summary>VHOST_USER_GET_PROTOCOL_FEATURES: reply u64.</summary>
    GetProtocolFeatures = 15,
    /// <summary>VHOST_USER_SET_PROTOCOL_FEATURES: u64.</summary>
    SetProtocolFeatures = 16,
    /// <summary>VHOST_USER_GET_QUEUE_NUM (only with MQ, never offered).</summary>
    GetQueueNum = 17,
    /// <summary>VHOST_USER_SET_VRING_ENABLE: vring state, 1 enable, 0 disable.</summary>
    SetVringEnable = 18,
    /// <summary>VHOST_USER_SET_BACKEND_REQ_FD (formerly SET_SLAVE_REQ_FD): the back-end request channel's socket.</summary>
    SetBackendReqFd = 21,
    /// <summary>VHOST_USER_GET_CONFIG: config space header + data; reply the same with data filled (zero size on error).</summary>
    GetConfig = 24,
    /// <summary>VHOST_USER_SET_CONFIG: config space header + data.</summary>
    SetConfig = 25,
    /// <summary>VHOST_USER_RESET_DEVICE: disable all rings and reset the device to its initial state.</summary>
    ResetDevice = 34,
    /// <summary>VHOST_USER_GET_MAX_MEM_SLOTS (only with CONFIGURE_MEM_SLOTS, never offered).</summary>
    GetMaxMemSlots = 36,
    /// <summary>VHOST_USER_SET_STATUS (only with STATUS, not offered).</summary>
    SetStatus = 39,
    /// <summary>VHOST_USER_GET_STATUS (only with STATUS, not offered).</summary>
    GetStatus = 40,
}

/// <summary>Back-end request codes, sent on the back-end request channel (vhost-user.rst, "Back-end message types").</summary>
public enum VhostUserBackendRequest : uint
{
    /// <summary>VHOST_USER_BACKEND_CONFIG_CHANGE_MSG: the device's config space changed; no payload.</summary>
    ConfigChange = 2,
}

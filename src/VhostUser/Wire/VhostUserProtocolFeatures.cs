namespace AmpCan.VhostUser.Wire;

/// <summary>Protocol feature bits (GET/SET_PROTOCOL_FEATURES), as masks; vhost-user.rst "Protocol features".</summary>
[Flags]
public enum VhostUserProtocolFeatures : ulong
{
    /// <summary>None.</summary>
    None = 0,
    /// <summary>VHOST_USER_PROTOCOL_F_MQ (bit 0): multiple queues, GET_QUEUE_NUM. Never offered here.</summary>
    MultiQueue = 1UL << 0,
    /// <summary>VHOST_USER_PROTOCOL_F_REPLY_ACK (bit 3): the need-reply flag asks for a u64 0/non-zero answer.</summary>
    ReplyAck = 1UL << 3,
    /// <summary>VHOST_USER_PROTOCOL_F_BACKEND_REQ (bit 5): a channel for requests from the back-end.</summary>
    BackendRequests = 1UL << 5,
    /// <summary>VHOST_USER_PROTOCOL_F_CONFIG (bit 9): GET_CONFIG/SET_CONFIG and config-change messages.</summary>
    Config = 1UL << 9,
    /// <summary>VHOST_USER_PROTOCOL_F_RESET_DEVICE (bit 13).</summary>
    ResetDevice = 1UL << 13,
    /// <summary>VHOST_USER_PROTOCOL_F_STATUS (bit 16). Not offered.</summary>
    Status = 1UL << 16,
}

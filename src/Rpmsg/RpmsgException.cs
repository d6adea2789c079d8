namespace AmpCan.Rpmsg;

/// <summary>Why an rpmsg operation failed; each maps to the errno Linux returns for it.</summary>
public enum RpmsgError
{
    /// <summary>The payload exceeds the buffer's payload size (EMSGSIZE).</summary>
    MessageTooLarge,
    /// <summary>No transmit buffer is free and the call does not wait (ENOMEM; EAGAIN for non-blocking files).</summary>
    NoBuffer,
    /// <summary>A blocking send waited its whole timeout for a buffer (ERESTARTSYS in Linux; ETIMEDOUT here).</summary>
    Timeout,
    /// <summary>The send was cancelled while waiting (EINTR).</summary>
    Cancelled,
    /// <summary>Source or destination is RPMSG_ADDR_ANY, or an address is taken (EINVAL / EBUSY).</summary>
    InvalidAddress,
    /// <summary>The device is not ready (before DRIVER_OK) (ENODEV).</summary>
    NotReady,
    /// <summary>The device broke the protocol or was reset; the channel is gone (ENETRESET).</summary>
    DeviceFailed,
    /// <summary>The endpoint was destroyed (EPIPE).</summary>
    EndpointDestroyed,
    /// <summary>Buffer counts or sizes that cannot work with the rings or pool given (EINVAL).</summary>
    InvalidConfiguration,
}

/// <summary>An rpmsg operation failed; <see cref="Error"/> says why and the message gives the numbers.</summary>
public sealed class RpmsgException(RpmsgError error, string message) : Exception(message)
{
    /// <summary>What went wrong.</summary>
    public RpmsgError Error { get; } = error;

    /// <summary>The (positive) Linux errno for this error, as rpmsg_char would return it.</summary>
    public int Errno => Error switch
    {
        RpmsgError.MessageTooLarge => 90,   // EMSGSIZE
        RpmsgError.NoBuffer => 12,          // ENOMEM
        RpmsgError.Timeout => 110,          // ETIMEDOUT
        RpmsgError.Cancelled => 4,          // EINTR
        RpmsgError.InvalidAddress => 22,    // EINVAL
        RpmsgError.NotReady => 19,          // ENODEV
        RpmsgError.DeviceFailed => 102,     // ENETRESET
        RpmsgError.InvalidConfiguration => 22, // EINVAL
        _ => 32,                            // EPIPE
    };
}

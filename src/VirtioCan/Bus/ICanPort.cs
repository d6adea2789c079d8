namespace AmpCan.VirtioCan.Bus;

/// <summary>What became of a frame handed to <see cref="ICanPort.Send"/>.</summary>
public enum CanSendResult
{
    /// <summary>The bus took it (and, when the port confirms transmits, its echo will follow once it is on the wire).</summary>
    Sent,
    /// <summary>The bus cannot take it now (its transmit queue is full); nothing was sent.</summary>
    Busy,
    /// <summary>The bus is not there (the interface is down or gone); nothing was sent.</summary>
    Down,
}

/// <summary>
/// A member's attachment to a CAN bus, whatever carries it (the in-process <see cref="VirtualCanBus"/>, a SocketCAN
/// interface, a virtio-can driver): frames go out with <see cref="Send"/>; frames from the other members, error
/// frames and (when asked for) the echoes of our own wait in one bounded queue, in the order the bus saw them.
/// </summary>
/// <remarks>
/// One thread takes frames (the device's loop); any thread may send. <see cref="FrameArrived"/> is called on the
/// thread that queued a frame, so it must only wake the taker.
/// </remarks>
public interface ICanPort : IDisposable
{
    /// <summary>The member's name, for logs (a SocketCAN port's is its interface's).</summary>
    string Name { get; }

    /// <summary>Called when a frame arrived here: wake whoever takes them.</summary>
    Action? FrameArrived { get; set; }

    /// <summary>
    /// When true, every frame this port sends comes back into its own queue, flagged <see cref="CanFrameKind.Echo"/>,
    /// once the bus carried it (SocketCAN's CAN_RAW_RECV_OWN_MSGS): what virtio-can's LATE_TX_ACK answers from.
    /// </summary>
    bool ConfirmsTransmits { get; set; }

    /// <summary>How many sent frames may await their echo at once with none of the echoes lost to a full queue.</summary>
    int MaxUnconfirmed { get; }

    /// <summary>Hands a frame to the bus for every other member.</summary>
    CanSendResult Send(in CanFrame frame);

    /// <summary>Takes the oldest frame waiting, if any.</summary>
    bool TryReceive(out CanFrame frame);

    /// <summary>Looks at the oldest frame waiting without taking it.</summary>
    bool TryPeek(out CanFrame frame);

    /// <summary>Frames waiting to be taken.</summary>
    int Pending { get; }

    /// <summary>Frames lost because this member's queue was full.</summary>
    long Dropped { get; }
}

namespace AmpCan.VirtioCan;

/// <summary>
/// What a <see cref="VirtioCanDriver"/> counted: transmits the device answered OK or NOT_OK, receive buffers it filled
/// wrongly, bus-off events. Written by the driver's loop alone, read from any thread.
/// </summary>
public sealed class VirtioCanDriverCounters
{
    private long _confirmed, _failed, _malformed, _busOffs, _received;

    /// <summary>Transmits the device answered OK (with LATE_TX_ACK: the bus carried them).</summary>
    public long TransmitsConfirmed => Volatile.Read(ref _confirmed);

    /// <summary>Transmits the device answered NOT_OK (or with no answer byte, or a value the spec does not define).</summary>
    public long TransmitsFailed => Volatile.Read(ref _failed);

    /// <summary>Receive buffers the device filled wrongly (short, wrong type, undefined flags, a frame not negotiated or out of range): dropped.</summary>
    public long MalformedReceives => Volatile.Read(ref _malformed);

    /// <summary>Frames received from the device and queued (before any was dropped for a full queue).</summary>
    public long Received => Volatile.Read(ref _received);

    /// <summary>Times the controller went bus-off.</summary>
    public long BusOffs => Volatile.Read(ref _busOffs);

    // One writer (the loop): a plain read and an ordered store, no locked instruction per frame.
    internal void Confirmed() => Volatile.Write(ref _confirmed, _confirmed + 1);
    internal void Failed() => Volatile.Write(ref _failed, _failed + 1);
    internal void Malformed() => Volatile.Write(ref _malformed, _malformed + 1);
    internal void ReceivedOne() => Volatile.Write(ref _received, _received + 1);
    internal void BusOff() => Volatile.Write(ref _busOffs, _busOffs + 1);
}

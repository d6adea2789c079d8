using System.Diagnostics.Metrics;

namespace AmpCan.Rpmsg;

/// <summary>Counters of one rpmsg device, also published as <c>System.Diagnostics.Metrics</c> instruments (meter "AmpCan.Rpmsg").</summary>
/// <remarks>
/// Each device has a meter of its own, disposed with the device, so that a device re-created after a crash does not
/// leave its predecessor's instruments (and the device they capture) registered for the life of the process.
/// </remarks>
public sealed class RpmsgStatistics : IDisposable
{
    /// <summary>Name of the meter every device publishes its instruments under.</summary>
    public const string MeterName = "AmpCan.Rpmsg";
    private readonly Meter _meter = new(MeterName);
    internal long Sent, Received, BytesSent, BytesReceived, UnknownDestination, MalformedMessages,
        NameServiceMalformed, NameServiceDuplicates, NameServiceUnknownDestroy, QueueOverflow, SendWaits, CallbackFailures,
        EndpointGone, PostsRefused;

    internal RpmsgStatistics(string device)
    {
        var tag = new KeyValuePair<string, object?>("device", device);
        _meter.CreateObservableCounter("ampcan.rpmsg.messages_sent", () => new Measurement<long>(MessagesSent, tag));
        _meter.CreateObservableCounter("ampcan.rpmsg.messages_received", () => new Measurement<long>(MessagesReceived, tag));
        _meter.CreateObservableCounter("ampcan.rpmsg.dropped", () => new Measurement<long>(UnknownDestination + MalformedMessages + QueueOverflow + EndpointGone, tag));
        _meter.CreateObservableCounter("ampcan.rpmsg.ns_malformed", () => new Measurement<long>(NameServiceMalformed + NameServiceDuplicates + NameServiceUnknownDestroy, tag));
    }

    /// <summary>Messages handed to the transport.</summary>
    public long MessagesSent => Interlocked.Read(ref Sent);
    /// <summary>Messages delivered to an endpoint (the name service's on address 53 included).</summary>
    public long MessagesReceived => Interlocked.Read(ref Received);
    /// <summary>Payload bytes sent.</summary>
    public long PayloadBytesSent => Interlocked.Read(ref BytesSent);
    /// <summary>Payload bytes delivered.</summary>
    public long PayloadBytesReceived => Interlocked.Read(ref BytesReceived);
    /// <summary>Messages dropped because no endpoint has their destination.</summary>
    public long DroppedUnknownDestination => Interlocked.Read(ref UnknownDestination);
    /// <summary>Messages dropped because the header is shorter than 16 bytes or claims more payload than the buffer holds.</summary>
    public long DroppedMalformed => Interlocked.Read(ref MalformedMessages);
    /// <summary>Name-service messages refused (wrong length, empty name, address ANY, too many channels).</summary>
    public long NameServiceRejected => Interlocked.Read(ref NameServiceMalformed);
    /// <summary>Announcements of a channel that already exists.</summary>
    public long NameServiceDuplicateAnnouncements => Interlocked.Read(ref NameServiceDuplicates);
    /// <summary>Destroy messages for a channel that does not exist.</summary>
    public long NameServiceUnknownDestroys => Interlocked.Read(ref NameServiceUnknownDestroy);
    /// <summary>Messages dropped because a queued endpoint's reader fell behind.</summary>
    public long DroppedQueueOverflow => Interlocked.Read(ref QueueOverflow);
    /// <summary>Messages that arrived for an endpoint already destroyed (in flight while it went away).</summary>
    public long DroppedEndpointDestroyed => Interlocked.Read(ref EndpointGone);
    /// <summary>Posted messages refused because the device's queue of messages waiting for a buffer was full.</summary>
    public long PostsRefusedQueueFull => Interlocked.Read(ref PostsRefused);
    /// <summary>Sends that had to wait for a transmit buffer.</summary>
    public long SendsThatWaited => Interlocked.Read(ref SendWaits);
    /// <summary>Receive callbacks that threw (the message is dropped, the endpoint stays).</summary>
    public long CallbacksFailed => Interlocked.Read(ref CallbackFailures);

    /// <summary>Withdraws the device's instruments.</summary>
    public void Dispose() => _meter.Dispose();
}

using AmpCan.Rpmsg;
using AmpCan.SharedMem.Diagnostics;
using Microsoft.Extensions.Logging;

namespace AmpCan.Host.Service;

/// <summary>
/// The host side of Linux's <c>samples/rpmsg/rpmsg_client_sample.c</c>: on probe it says "hello world!", then answers
/// every message until 100 have arrived, and from then on only says goodbye (Linux's <c>rx_count &gt;= count</c>).
/// </summary>
/// <remarks>
/// Its replies are posted: a receive callback never waits for a transmit buffer, so a remote that holds the host's
/// buffers delays the sample's replies, never the device. What the peer sent is logged escaped and rate-limited.
/// </remarks>
public sealed class RpmsgClientSample(RpmsgBus bus, ILogger logger)
{
    /// <summary>The channel name the sample binds to.</summary>
    public const string ChannelName = "rpmsg-client-sample";

    /// <summary>Messages after which the sample says goodbye (MSG_LIMIT).</summary>
    public const int MessageLimit = 100;

    private readonly RateLimitedLog _log = new();
    private int _received;
    private int _replies;

    /// <summary>Messages received so far.</summary>
    public int Received => Volatile.Read(ref _received);

    /// <summary>Replies sent (or queued) so far, the greeting included.</summary>
    public int Replies => Volatile.Read(ref _replies);

    /// <summary>Raised when the 100th message arrived.</summary>
    public event Action? Finished;

    /// <summary>Registers the driver on the bus.</summary>
    public void Register() => bus.RegisterDriver(ChannelName, Probe);

    private RpmsgEndpoint Probe(RpmsgChannel channel)
    {
        logger.LogInformation("new channel: 0x{Src:x} -> 0x{Dst:x}", channel.LocalAddress, channel.RemoteAddress);
        RpmsgEndpoint ep = bus.CreateEndpoint(channel, OnMessage);
        Reply(ep, channel.RemoteAddress);
        return ep;
    }

    private void OnMessage(in RpmsgReceivedMessage m)
    {
        int n = Interlocked.Increment(ref _received);
        if (_log.ShouldLog(out long suppressed))
            logger.LogInformation("incoming msg {N} (src: 0x{Src:x}): {Text}{Suppressed}", n, m.Source, PeerText.Escape(m.Payload), RateLimitedLog.Note(suppressed));
        // Samples should not live forever.
        if (n >= MessageLimit)
        {
            if (n == MessageLimit)
            {
                logger.LogInformation("goodbye!");
                Finished?.Invoke();
            }
            return;
        }
        Reply(m.Endpoint, m.Source);
    }

    private void Reply(RpmsgEndpoint ep, uint to)
    {
        if (ep.PostTo(to, "hello world!"u8)) Interlocked.Increment(ref _replies);
        else if (_log.ShouldLog(out long suppressed)) logger.LogWarning("reply dropped: the send queue is full{Suppressed}", RateLimitedLog.Note(suppressed));
    }
}

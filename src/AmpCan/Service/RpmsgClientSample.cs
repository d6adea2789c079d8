using AmpCan.Rpmsg;
using Microsoft.Extensions.Logging;

namespace AmpCan.Host.Service;

/// <summary>
/// The host side of Linux's <c>samples/rpmsg/rpmsg_client_sample.c</c>: on probe it says "hello world!", then answers
/// every message until 100 have arrived.
/// </summary>
public sealed class RpmsgClientSample(RpmsgBus bus, ILogger logger)
{
    /// <summary>The channel name the sample binds to.</summary>
    public const string ChannelName = "rpmsg-client-sample";

    /// <summary>Messages after which the sample says goodbye (MSG_LIMIT).</summary>
    public const int MessageLimit = 100;

    private int _received;

    /// <summary>Messages received so far.</summary>
    public int Received => Volatile.Read(ref _received);

    /// <summary>Raised when the 100th message arrived.</summary>
    public event Action? Finished;

    /// <summary>Registers the driver on the bus.</summary>
    public void Register() => bus.RegisterDriver(ChannelName, Probe);

    private RpmsgEndpoint Probe(RpmsgChannel channel)
    {
        logger.LogInformation("new channel: 0x{Src:x} -> 0x{Dst:x}", RpmsgAddress.Any, channel.RemoteAddress);
        RpmsgEndpoint ep = bus.CreateEndpoint(channel.Name, OnMessage, destination: channel.RemoteAddress);
        ep.Send("hello world!"u8);
        return ep;
    }

    private void OnMessage(in RpmsgReceivedMessage m)
    {
        int n = Interlocked.Increment(ref _received);
        logger.LogInformation("incoming msg {N} (src: 0x{Src:x}): {Text}", n, m.Source, System.Text.Encoding.ASCII.GetString(m.Payload));
        if (n == MessageLimit)
        {
            logger.LogInformation("goodbye!");
            Finished?.Invoke();
            return;
        }
        m.Endpoint.SendTo(m.Source, "hello world!"u8);
    }
}

using System.Buffers.Binary;
using System.Text;
using AmpCan.Rpmsg;
using AmpCan.SharedMem.Doorbells;
using Microsoft.Extensions.Logging;

namespace AmpCan.Simulation;

/// <summary>
/// The services the simulated firmware offers on an rpmsg bus, whatever transport carries it (a resource-table vdev
/// in shared memory, a vhost-user front end): an echo, a counter for Linux's <c>rpmsg_client_sample</c>, and a raw
/// loopback, announced through the name service; their misbehaviour scripted for tests. Their callbacks run on
/// <paramref name="loop"/>, the bus's loop, and never block it.
/// </summary>
public sealed class SimulatedServices(NotificationLoop loop, SimulatedFirmware firmware, SimulatedRemoteScript? script, ILogger logger)
{
    private readonly ReplyBacklog _backlog = new(loop);
    private int _sampleCount;
    private int _answered;

    /// <summary>Scripted misbehaviour, counted over the messages the echo and raw services receive.</summary>
    public SimulatedRemoteScript Script { get; set; } = script ?? new SimulatedRemoteScript();

    /// <summary>Delay before each reply (a slow remote); part of <see cref="Script"/>.</summary>
    public TimeSpan ReplyLatency
    {
        get => Script.ReplyLatency;
        set => Script = Script with { ReplyLatency = value };
    }

    /// <summary>When set, services swallow messages without answering (a hung task).</summary>
    public bool Silent { get; set; }

    /// <summary>What a scripted crash does (the core that runs the services stops dead).</summary>
    public Action? Crash { get; init; }

    /// <summary>What scripted garbage does (the transport writes it where the host reads).</summary>
    public Action<GarbageKind>? InjectGarbage { get; init; }

    /// <summary>Echo endpoint, counter endpoint and raw endpoint of the last announcement.</summary>
    public RpmsgEndpoint? Echo { get; private set; }
    /// <inheritdoc cref="Echo"/>
    public RpmsgEndpoint? Sample { get; private set; }
    /// <inheritdoc cref="Echo"/>
    public RpmsgEndpoint? Raw { get; private set; }

    /// <summary>Creates the services' endpoints on <paramref name="bus"/> and announces them (again on every new bus: a reset driver sees them anew).</summary>
    public void Announce(RpmsgBus bus)
    {
        Interlocked.Exchange(ref _sampleCount, 0);
        Echo = firmware.EchoService is string echo ? bus.CreateEndpoint(echo, OnEcho, announce: true) : null;
        Sample = firmware.SampleService is string sample ? bus.CreateEndpoint(sample, OnSample, announce: true) : null;
        Raw = firmware.RawService is string raw ? bus.CreateEndpoint(raw, OnEcho, announce: true) : null;
        logger.LogInformation("simulated remote: services {Services} announced",
            string.Join(", ", new[] { Echo, Sample, Raw }.OfType<RpmsgEndpoint>().Select(e => $"{e.Name}@0x{e.Address:x}")));
    }

    private void OnEcho(in RpmsgReceivedMessage m)
    {
        if (Silent) return;
        SimulatedRemoteScript script = Script;
        int n = ++_answered; // the loop thread is the only caller
        if (n == script.CrashAfter + 1)
        {
            Crash?.Invoke();
            return;
        }
        if (n > script.SilentAfter)
        {
            if (n == script.SilentAfter + 1) logger.LogWarning("simulated remote: scripted silence after {Count} messages", script.SilentAfter);
            return;
        }
        if (n == script.GarbageAfter + 1)
        {
            logger.LogWarning("simulated remote: scripted garbage ({Kind}) after {Count} messages", script.Garbage, script.GarbageAfter);
            InjectGarbage?.Invoke(script.Garbage);
            return;
        }
        if (n == script.FloodAfter + 1)
        {
            logger.LogWarning("simulated remote: scripted flood of {Count} messages to 0x{Destination:x}", script.FloodCount, m.Source);
            Flood(m.Source, script.FloodCount, script.FloodSize);
            return;
        }
        Delay();
        // Posted: a callback never waits for a buffer. When the send queue is full the request is kept (and with it the
        // host's buffer) until its reply can be posted, in order.
        if (_backlog.IsEmpty && m.Endpoint.PostTo(m.Source, m.Payload)) return;
        _backlog.Add(m);
    }

    private void OnSample(in RpmsgReceivedMessage m)
    {
        if (Silent) return;
        int n = Interlocked.Increment(ref _sampleCount);
        if (n > firmware.SampleLimit) return;
        Delay();
        Span<byte> msg = stackalloc byte[32];
        int len = Encoding.ASCII.GetBytes($"hello world! #{n}", msg);
        if (n == 1 && firmware.SampleFirstReplyDelay > TimeSpan.Zero)
        {
            // Out of the window where the guest's probe still holds tx_lock (see SampleFirstReplyDelay); posted from a
            // timer, so the loop is not held meanwhile, and the peer sends nothing more until this reply arrives.
            (RpmsgEndpoint ep, uint to, byte[] reply) = (m.Endpoint, m.Source, msg[..len].ToArray());
            _ = Task.Delay(firmware.SampleFirstReplyDelay).ContinueWith(_ =>
            {
                try { ep.PostTo(to, reply); }
                catch (RpmsgException) { } // the device was reset meanwhile: nobody left to answer
            }, TaskScheduler.Default);
            return;
        }
        m.Endpoint.PostTo(m.Source, msg[..len]);
    }

    private void Delay()
    {
        TimeSpan d = ReplyLatency;
        if (d > TimeSpan.Zero) Thread.Sleep(d); // the simulated task is slow; the loop thread is its only core
    }

    /// <summary>
    /// Sends <paramref name="count"/> messages of <paramref name="size"/> bytes to <paramref name="destination"/> as fast
    /// as buffers allow, from the remote's loop (without blocking it: the flood is posted as the send queue drains).
    /// </summary>
    public void Flood(uint destination, int count, int size)
    {
        RpmsgEndpoint ep = Raw ?? Echo ?? throw new InvalidOperationException("the simulated services are not announced");
        loop.Add(new FloodSender(loop, ep, destination, count, size));
    }

    /// <summary>A flood in progress: posts while the device's send queue takes more, on every pass of the loop.</summary>
    private sealed class FloodSender(NotificationLoop loop, RpmsgEndpoint ep, uint destination, int count, int size) : INotificationHandler
    {
        private readonly byte[] _payload = new byte[size];
        private int _sent;

        public bool Process()
        {
            if (_sent == count || ep.IsDestroyed)
            {
                loop.Remove(this);
                return false;
            }
            int before = _sent;
            while (_sent < count)
            {
                BinaryPrimitives.WriteInt32LittleEndian(_payload, _sent);
                if (!ep.PostTo(destination, _payload)) break;
                _sent++;
            }
            return _sent != before;
        }

        // The device asks for transmit notifications while posted messages wait, which is what wakes this loop.
        public bool ArmNotifications() => false;
        public void DisarmNotifications() { }
    }
}

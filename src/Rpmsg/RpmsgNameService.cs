using AmpCan.Rpmsg.Wire;
using AmpCan.SharedMem.Diagnostics;
using Microsoft.Extensions.Logging;

namespace AmpCan.Rpmsg;

/// <summary>
/// The name service, as Linux's rpmsg_ns.c: an ordinary endpoint on address 53 whose callback turns the peer's
/// announcements into channels (and withdrawals into their removal); and the announcements of our own endpoints,
/// posted to the peer's address 53 in the order they were made. Every line a peer can trigger here is rate-limited
/// and its text escaped.
/// </summary>
internal sealed class RpmsgNameService
{
    private readonly RpmsgBus _bus;
    private readonly ILogger _logger;
    private readonly RateLimitedLog _faultLog = new();
    private readonly RateLimitedLog _channelLog = new();
    private readonly RpmsgEndpoint _endpoint;

    /// <summary>Creates the name-service endpoint on <paramref name="bus"/>.</summary>
    public RpmsgNameService(RpmsgBus bus, ILogger logger)
    {
        _bus = bus;
        _logger = logger;
        _endpoint = bus.CreateReservedEndpoint("name-service", RpmsgAddress.NameService, OnMessage);
    }

    /// <summary>Tells the peer that <paramref name="address"/> offers (or no longer offers) service <paramref name="name"/>.</summary>
    public static void Announce(RpmsgBus bus, string name, uint address, NameServiceFlags flags)
    {
        Span<byte> msg = stackalloc byte[NameServiceMessage.Size];
        new NameServiceMessage(name, address, flags).Write(msg);
        // A destroy always queues (it undoes a create that did); a create is refused when the queue is full.
        if (!bus.Post(address, RpmsgAddress.NameService, msg, force: flags == NameServiceFlags.Destroy))
            throw new RpmsgException(RpmsgError.NoBuffer, $"cannot announce '{name}': {bus.Name} has too many messages waiting for the peer");
    }

    private void OnMessage(in RpmsgReceivedMessage m)
    {
        RpmsgStatistics stats = _bus.Statistics;
        NameServiceFault fault = NameServiceMessage.TryRead(m.Payload, out NameServiceMessage ns);
        if (fault != NameServiceFault.None)
        {
            Interlocked.Increment(ref stats.NameServiceMalformed);
            if (_faultLog.ShouldLog(out long s))
                _logger.LogWarning("{Device}: name service: malformed message from 0x{Source:x} ({Length} bytes): {Fault}{Suppressed}",
                    _bus.Name, m.Source, m.Payload.Length, fault, RateLimitedLog.Note(s));
            return;
        }
        if (ns.Flags == NameServiceFlags.Destroy) Withdraw(ns, m.Source);
        else Create(ns, m.Source);
    }

    private void Create(in NameServiceMessage ns, uint source)
    {
        RpmsgStatistics stats = _bus.Statistics;
        switch (_bus.ChannelTable.Add(ns.Name, ns.Address, out RpmsgChannel? ch, out Func<RpmsgChannel, RpmsgEndpoint?>? driver))
        {
            case ChannelAddResult.Duplicate:
                Interlocked.Increment(ref stats.NameServiceDuplicates);
                if (_faultLog.ShouldLog(out long s1))
                    _logger.LogWarning("{Device}: name service: channel '{Name}' at 0x{Address:x} already exists (from 0x{Source:x}){Suppressed}",
                        _bus.Name, PeerText.Escape(ns.Name), ns.Address, source, RateLimitedLog.Note(s1));
                return;
            case ChannelAddResult.TooMany:
                Interlocked.Increment(ref stats.NameServiceMalformed);
                if (_faultLog.ShouldLog(out long s2))
                    _logger.LogWarning("{Device}: name service: channel '{Name}' at 0x{Address:x} refused: {Limit} channels already exist{Suppressed}",
                        _bus.Name, PeerText.Escape(ns.Name), ns.Address, RpmsgBus.MaxChannels, RateLimitedLog.Note(s2));
                return;
        }
        if (_channelLog.ShouldLog(out long s))
            _logger.LogInformation("{Device}: channel '{Name}' announced at 0x{Address:x}{Suppressed}", _bus.Name, PeerText.Escape(ns.Name), ns.Address, RateLimitedLog.Note(s));
        _bus.OnChannelCreated(ch!, driver);
    }

    private void Withdraw(in NameServiceMessage ns, uint source)
    {
        RpmsgChannel? ch = _bus.ChannelTable.Remove(ns.Name, ns.Address);
        if (ch is null)
        {
            Interlocked.Increment(ref _bus.Statistics.NameServiceUnknownDestroy);
            if (_faultLog.ShouldLog(out long s1))
                _logger.LogWarning("{Device}: name service: destroy of unknown channel '{Name}' at 0x{Address:x} from 0x{Source:x}{Suppressed}",
                    _bus.Name, PeerText.Escape(ns.Name), ns.Address, source, RateLimitedLog.Note(s1));
            return;
        }
        if (_channelLog.ShouldLog(out long s))
            _logger.LogInformation("{Device}: channel '{Name}' at 0x{Address:x} withdrawn{Suppressed}", _bus.Name, PeerText.Escape(ns.Name), ns.Address, RateLimitedLog.Note(s));
        _bus.OnChannelRemoved(ch);
    }

    /// <inheritdoc/>
    public override string ToString() => _endpoint.ToString();
}

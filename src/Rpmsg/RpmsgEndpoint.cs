using System.Threading.Channels;

namespace AmpCan.Rpmsg;

/// <summary>
/// A local rpmsg address with its receive path: a callback on the device's loop thread, or a bounded queue read
/// with <see cref="ReceiveAsync"/>. Sends go to <see cref="Destination"/> unless another address is given.
/// </summary>
public sealed class RpmsgEndpoint : IDisposable
{
    private readonly RpmsgBus _bus;
    private readonly RpmsgReceiveCallback? _callback;
    private readonly Channel<RpmsgMessage>? _queue;
    private uint _destination;
    private int _destroyed;

    internal RpmsgEndpoint(RpmsgBus bus, string name, uint address, uint destination, RpmsgReceiveCallback? callback, int queueCapacity, bool announce)
    {
        _bus = bus;
        Name = name;
        Address = address;
        _destination = destination;
        _callback = callback;
        Announced = announce;
        if (callback is null)
            _queue = Channel.CreateBounded<RpmsgMessage>(new BoundedChannelOptions(queueCapacity)
            {
                SingleWriter = true,
                FullMode = BoundedChannelFullMode.Wait, // TryWrite fails when full; the bus counts and drops
            });
    }

    /// <summary>Service name (empty for anonymous endpoints).</summary>
    public string Name { get; }

    /// <summary>The local address.</summary>
    public uint Address { get; }

    /// <summary>Where <see cref="Send"/> goes; RPMSG_ADDR_ANY until bound (by the caller, an announcement or the first message received).</summary>
    public uint Destination
    {
        get => Volatile.Read(ref _destination);
        set => Volatile.Write(ref _destination, value);
    }

    /// <summary>True when this endpoint was announced through the name service.</summary>
    public bool Announced { get; }

    /// <summary>True once destroyed (by <see cref="Dispose"/> or a device failure).</summary>
    public bool IsDestroyed => Volatile.Read(ref _destroyed) != 0;

    /// <summary>Largest payload one message can carry.</summary>
    public int Mtu => _bus.Mtu;

    /// <summary>Sends to <see cref="Destination"/>, waiting up to the timeout (default: the device's, 15 s) for a transmit buffer.</summary>
    public void Send(ReadOnlySpan<byte> payload, TimeSpan? timeout = null, CancellationToken cancellation = default) =>
        _bus.Send(Address, RequireDestination(), payload, wait: true, timeout, cancellation);

    /// <summary>Sends to <paramref name="destination"/>, waiting for a transmit buffer.</summary>
    public void SendTo(uint destination, ReadOnlySpan<byte> payload, TimeSpan? timeout = null, CancellationToken cancellation = default) =>
        _bus.Send(Address, destination, payload, wait: true, timeout, cancellation);

    /// <summary>Sends with an explicit source address, waiting for a transmit buffer (rpmsg_send_offchannel).</summary>
    public void SendOffChannel(uint source, uint destination, ReadOnlySpan<byte> payload, TimeSpan? timeout = null, CancellationToken cancellation = default) =>
        _bus.Send(source, destination, payload, wait: true, timeout, cancellation);

    /// <summary>Sends to <see cref="Destination"/> if a transmit buffer is free now; false otherwise (rpmsg_trysend).</summary>
    public bool TrySend(ReadOnlySpan<byte> payload) => _bus.Send(Address, RequireDestination(), payload, wait: false, null, default);

    /// <summary>Sends to <paramref name="destination"/> if a transmit buffer is free now.</summary>
    public bool TrySendTo(uint destination, ReadOnlySpan<byte> payload) => _bus.Send(Address, destination, payload, wait: false, null, default);

    /// <summary>Sends with an explicit source if a transmit buffer is free now.</summary>
    public bool TrySendOffChannel(uint source, uint destination, ReadOnlySpan<byte> payload) => _bus.Send(source, destination, payload, wait: false, null, default);

    /// <summary>Takes a transmit buffer to fill in place, waiting up to the timeout.</summary>
    public RpmsgTxBuffer GetTxBuffer(TimeSpan? timeout = null, CancellationToken cancellation = default)
    {
        _bus.TryGetTxBuffer(wait: true, timeout, cancellation, out RpmsgTxBuffer b);
        return b;
    }

    /// <summary>Takes a transmit buffer if one is free now.</summary>
    public bool TryGetTxBuffer(out RpmsgTxBuffer buffer) => _bus.TryGetTxBuffer(wait: false, null, default, out buffer);

    /// <summary>Sends <paramref name="length"/> bytes already written into <paramref name="buffer"/> to <see cref="Destination"/> (no copy).</summary>
    public void SendNoCopy(RpmsgTxBuffer buffer, int length) => _bus.SendNoCopy(buffer, Address, RequireDestination(), length);

    /// <summary>Sends a filled buffer to <paramref name="destination"/> (no copy).</summary>
    public void SendToNoCopy(RpmsgTxBuffer buffer, uint destination, int length) => _bus.SendNoCopy(buffer, Address, destination, length);

    /// <summary>Gives back a transmit buffer that will not be sent.</summary>
    public void ReleaseTxBuffer(RpmsgTxBuffer buffer) => _bus.ReleaseTxBuffer(buffer);

    /// <summary>Waits for the next message of a queued endpoint (one created without a callback).</summary>
    public ValueTask<RpmsgMessage> ReceiveAsync(CancellationToken cancellation = default)
    {
        if (_queue is null) throw new InvalidOperationException($"endpoint 0x{Address:x} delivers to a callback; it has no receive queue");
        return ReadAsync(cancellation);
    }

    /// <summary>Takes a queued message if one is waiting.</summary>
    public bool TryReceive(out RpmsgMessage message)
    {
        if (_queue is null) throw new InvalidOperationException($"endpoint 0x{Address:x} delivers to a callback; it has no receive queue");
        return _queue.Reader.TryRead(out message);
    }

    private async ValueTask<RpmsgMessage> ReadAsync(CancellationToken cancellation)
    {
        try
        {
            return await _queue!.Reader.ReadAsync(cancellation).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            throw new RpmsgException(RpmsgError.EndpointDestroyed, $"endpoint 0x{Address:x} ('{Name}') was destroyed");
        }
    }

    /// <summary>Called on the loop thread; returns true if the callback held the buffer.</summary>
    internal bool Deliver(in RpmsgReceivedMessage message)
    {
        if (_callback is not null)
        {
            _callback(in message);
            return false;
        }
        if (!_queue!.Writer.TryWrite(new RpmsgMessage(message.Source, message.Payload)))
            Interlocked.Increment(ref _bus.Statistics.QueueOverflow);
        return false;
    }

    private uint RequireDestination()
    {
        uint d = Destination;
        if (d == RpmsgAddress.Any)
            throw new RpmsgException(RpmsgError.InvalidAddress, $"endpoint 0x{Address:x} ('{Name}') has no destination yet; use SendTo");
        return d;
    }

    internal bool MarkDestroyed()
    {
        if (Interlocked.Exchange(ref _destroyed, 1) != 0) return false;
        _queue?.Writer.TryComplete();
        return true;
    }

    /// <summary>Destroys the endpoint (announcing its departure if it was announced).</summary>
    public void Dispose() => _bus.DestroyEndpoint(this);

    /// <inheritdoc/>
    public override string ToString() => $"rpmsg endpoint '{Name}' 0x{Address:x} -> 0x{Destination:x}";
}

namespace AmpCan.Rpmsg;

/// <summary>
/// A local rpmsg address with its receive path: a callback run by whichever thread processes the device's receive
/// queue (its loop, or a thread waiting for a reply), or a bounded queue read with <see cref="Receive"/> or
/// <see cref="ReceiveAsync"/>. Sends go to <see cref="Destination"/> unless another address is given.
/// </summary>
public sealed class RpmsgEndpoint : IDisposable
{
    private readonly RpmsgBus _bus;
    private readonly RpmsgReceiveCallback? _callback;
    private readonly RpmsgEndpointQueue? _queue;
    // As Linux's ept->cb_lock: held while the callback runs, so that destroying the endpoint waits for a running
    // callback and no callback starts after Dispose returns.
    private readonly Lock _callbackLock = new();
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
        if (callback is null) _queue = new RpmsgEndpointQueue(queueCapacity);
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

    /// <summary>
    /// Sends to <see cref="Destination"/>, waiting up to the timeout (default: the device's, 15 s) for a transmit buffer.
    /// From a receive callback it never waits: it sends if a buffer is free and throws <see cref="RpmsgError.NoBuffer"/>
    /// otherwise (use <see cref="Post"/> there).
    /// </summary>
    public void Send(ReadOnlySpan<byte> payload, TimeSpan? timeout = null, CancellationToken cancellation = default) =>
        _bus.Send(Address, RequireDestination(), payload, wait: true, timeout, cancellation);

    /// <summary>Sends to <paramref name="destination"/>, waiting for a transmit buffer (not from a callback; see <see cref="Send"/>).</summary>
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

    /// <summary>
    /// Sends to <see cref="Destination"/> now if a buffer is free and nothing posted is still waiting, else queues a copy
    /// that the device's loop sends, in order, as buffers come back. Never blocks (safe in a receive callback); false
    /// when the device's queue of waiting messages is full (the message is dropped and counted).
    /// </summary>
    public bool Post(ReadOnlySpan<byte> payload) => _bus.Post(Address, RequireDestination(), payload);

    /// <summary>Posts to <paramref name="destination"/> (see <see cref="Post"/>).</summary>
    public bool PostTo(uint destination, ReadOnlySpan<byte> payload) => _bus.Post(Address, destination, payload);

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

    /// <summary>
    /// Waits for the next message of a queued endpoint (one created without a callback). While it waits, the calling
    /// thread polls the device's receive ring itself for a while (when the device's mode spins), so a prompt reply costs
    /// no hand-off from another thread; then it sleeps.
    /// </summary>
    /// <exception cref="RpmsgException"><see cref="RpmsgError.Timeout"/>, <see cref="RpmsgError.Cancelled"/> or <see cref="RpmsgError.EndpointDestroyed"/>.</exception>
    public RpmsgMessage Receive(TimeSpan timeout, CancellationToken cancellation = default)
    {
        RpmsgEndpointQueue q = RequireQueue();
        if (q.TryTake(out RpmsgMessage m)) return m;
        ThrowIfGoneAndEmpty(q);
        long deadline = timeout == Timeout.InfiniteTimeSpan ? long.MaxValue : Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        if (_bus.PollForReply(q) && q.TryTake(out m)) return m;
        ThrowIfGoneAndEmpty(q);
        while (true)
        {
            long left = deadline - Environment.TickCount64;
            if (left <= 0)
                throw new RpmsgException(RpmsgError.Timeout, $"no message for endpoint 0x{Address:x} ('{Name}') within {timeout.TotalMilliseconds:F0} ms");
            bool got;
            try { got = q.Wait((int)Math.Min(left, int.MaxValue), cancellation); }
            catch (OperationCanceledException) { throw new RpmsgException(RpmsgError.Cancelled, $"receive on endpoint 0x{Address:x} cancelled"); }
            if (got)
            {
                if (q.TryDequeueAfterWait(out m)) return m;
                ThrowIfGoneAndEmpty(q);
            }
        }
    }

    /// <summary>Waits for the next message of a queued endpoint without blocking a thread.</summary>
    public async ValueTask<RpmsgMessage> ReceiveAsync(CancellationToken cancellation = default)
    {
        RpmsgEndpointQueue q = RequireQueue();
        while (true)
        {
            if (q.TryTake(out RpmsgMessage m)) return m;
            ThrowIfGoneAndEmpty(q);
            await q.WaitAsync(cancellation).ConfigureAwait(false);
            if (q.TryDequeueAfterWait(out m)) return m;
        }
    }

    /// <summary>Takes a queued message if one is waiting.</summary>
    public bool TryReceive(out RpmsgMessage message) => RequireQueue().TryTake(out message);

    private RpmsgEndpointQueue RequireQueue() =>
        _queue ?? throw new InvalidOperationException($"endpoint 0x{Address:x} delivers to a callback; it has no receive queue");

    private void ThrowIfGoneAndEmpty(RpmsgEndpointQueue q)
    {
        if (q.IsClosedAndEmpty) throw new RpmsgException(RpmsgError.EndpointDestroyed, $"endpoint 0x{Address:x} ('{Name}') was destroyed");
    }

    /// <summary>Delivers one message (on the thread processing the receive queue); false if the endpoint was gone or its queue full.</summary>
    internal DeliveryResult Deliver(in RpmsgReceivedMessage message)
    {
        if (_callback is null)
            return _queue!.TryAdd(message.Source, message.Payload) switch
            {
                true => DeliveryResult.Delivered,
                false when IsDestroyed => DeliveryResult.EndpointGone,
                _ => DeliveryResult.QueueFull,
            };
        lock (_callbackLock)
        {
            if (IsDestroyed) return DeliveryResult.EndpointGone;
            _callback(in message);
            return DeliveryResult.Delivered;
        }
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
        _queue?.Close();
        return true;
    }

    // A callback running on another thread finishes before the destroy returns; from inside a callback (the lock is
    // re-entrant) there is nothing to wait for.
    internal void WaitForCallback()
    {
        if (_callback is null) return;
        lock (_callbackLock) { }
    }

    /// <summary>Destroys the endpoint (announcing its departure if it was announced); no callback of it runs after this returns.</summary>
    public void Dispose() => _bus.DestroyEndpoint(this);

    /// <inheritdoc/>
    public override string ToString() => $"rpmsg endpoint '{Name}' 0x{Address:x} -> 0x{Destination:x}";
}

/// <summary>What became of a message handed to an endpoint.</summary>
internal enum DeliveryResult
{
    Delivered,
    QueueFull,
    EndpointGone,
}

using System.Collections.Concurrent;
using AmpCan.Rpmsg.Wire;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Vring;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AmpCan.Rpmsg;

/// <summary>Where an rpmsg device stands.</summary>
public enum RpmsgDeviceState
{
    /// <summary>Created, waiting for DRIVER_OK.</summary>
    Starting,
    /// <summary>Exchanging messages.</summary>
    Ready,
    /// <summary>The peer broke the protocol (or the device was torn down); every endpoint is gone.</summary>
    Failed,
}

/// <summary>
/// The role-independent rpmsg core, as Linux <c>rpmsg_core.c</c> + <c>rpmsg_ns.c</c>: endpoints and their addresses,
/// the name service on address 53, channels announced by the peer, dispatch of received messages, and the send paths
/// (copy, try, blocking with timeout, zero copy). A transport (<see cref="VirtioRpmsgHost"/>, <see cref="VirtioRpmsgRemote"/>)
/// supplies buffers and moves them over the vrings.
/// </summary>
public abstract class RpmsgBus : IDisposable
{
    // Copy-on-write: the receive path looks endpoints up without a lock; creating or destroying one (rare) publishes a new table.
    private Dictionary<uint, RpmsgEndpoint> _endpoints = [];
    // Endpoints below this address (the name service, fixed service addresses, the first dynamic ones) are also kept
    // in a direct table, so that delivering a message costs one array read instead of a hash lookup.
    private const uint DirectAddresses = 2048;
    /// <summary>Channels one peer may have announced at once; beyond it announcements are refused and counted (a hostile peer cannot grow our memory without bound).</summary>
    public const int MaxChannels = 1024;
    private readonly RpmsgEndpoint?[] _direct = new RpmsgEndpoint?[DirectAddresses];
    private readonly Lock _gate = new();
    private readonly List<RpmsgChannel> _channels = [];
    private readonly Dictionary<string, Func<RpmsgChannel, RpmsgEndpoint?>> _drivers = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<(string Name, uint Address, NameServiceFlags Flags)> _pendingAnnouncements = new();
    private readonly ConcurrentQueue<int> _rxReleased = new();
    private int _rxReleasedCount;
    private NotificationLoop? _loop;
    private readonly object _txWait = new(); // Monitor.Wait/PulseAll need a monitor

    /// <summary>Guards the transmit side (as Linux's tx_lock): the transport's *Locked hooks run under it.</summary>
    protected readonly Lock TxLock = new();
    private readonly int[] _txOwner;     // generation of a zero-copy tx buffer held by a caller, 0 if none
    private readonly int[] _rxHeld;      // generation of a held rx buffer, 0 if none
    private int _generation;
    private int _txWaiters;
    private volatile RpmsgDeviceState _state;
    private Exception? _failure;
    private int _holdCandidate = -1;
    private RpmsgHeldBuffer? _held;
    private long _loggedDrops;
    private long _loggedNameServiceFaults;

    /// <summary>Creates the core; <paramref name="txIds"/> and <paramref name="rxIds"/> bound the transport's buffer ids.</summary>
    protected RpmsgBus(string name, int txIds, int rxIds, TimeSpan? sendTimeout, int endpointQueueCapacity, ILogger? logger)
    {
        Name = name;
        Logger = logger ?? NullLogger.Instance;
        SendTimeout = sendTimeout ?? VirtioRpmsg.DefaultSendTimeout;
        EndpointQueueCapacity = endpointQueueCapacity > 0 ? endpointQueueCapacity
            : throw new ArgumentOutOfRangeException(nameof(endpointQueueCapacity), "endpoint queue capacity must be positive");
        _txOwner = new int[txIds];
        _rxHeld = new int[rxIds];
        Statistics = new RpmsgStatistics(name);
    }

    /// <summary>Name of the device (for logs and metrics).</summary>
    public string Name { get; }

    /// <summary>Logger of the device.</summary>
    protected ILogger Logger { get; }

    /// <summary>How long a blocking send waits for a transmit buffer by default.</summary>
    public TimeSpan SendTimeout { get; }

    /// <summary>Messages a queued endpoint keeps before it drops (and counts) new ones.</summary>
    public int EndpointQueueCapacity { get; }

    /// <summary>Counters.</summary>
    public RpmsgStatistics Statistics { get; }

    /// <summary>Where the device stands.</summary>
    public RpmsgDeviceState State => _state;

    /// <summary>True when messages can flow.</summary>
    public bool IsReady => _state == RpmsgDeviceState.Ready;

    /// <summary>The violation or error that failed the device, if any.</summary>
    public Exception? Failure => _failure;

    /// <summary>True when VIRTIO_RPMSG_F_NS was negotiated.</summary>
    public bool NameServiceEnabled { get; protected set; }

    /// <summary>Largest payload one message can carry.</summary>
    public abstract int Mtu { get; }

    /// <summary>Raised (on the loop thread) when the peer announces a channel.</summary>
    public event Action<RpmsgChannel>? ChannelCreated;

    /// <summary>Raised when the peer withdraws a channel or the device fails.</summary>
    public event Action<RpmsgChannel>? ChannelRemoved;

    /// <summary>Raised once when the device fails.</summary>
    public event Action<Exception>? DeviceFailed;

    /// <summary>Channels the peer has announced and not withdrawn.</summary>
    public IReadOnlyList<RpmsgChannel> Channels { get { lock (_gate) return [.. _channels]; } }

    /// <summary>Local endpoints.</summary>
    public IReadOnlyCollection<RpmsgEndpoint> Endpoints => [.. Volatile.Read(ref _endpoints).Values];

    /// <summary>
    /// Creates an endpoint. <paramref name="address"/> ANY allocates the lowest free address from 1024 up.
    /// Without a callback the endpoint queues messages for <see cref="RpmsgEndpoint.ReceiveAsync"/>. With
    /// <paramref name="announce"/> the name service tells the peer about it (and about its destruction).
    /// </summary>
    public RpmsgEndpoint CreateEndpoint(string name, RpmsgReceiveCallback? callback, uint address = RpmsgAddress.Any, uint destination = RpmsgAddress.Any, bool announce = false)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (System.Text.Encoding.UTF8.GetByteCount(name) >= NameServiceMessage.NameSize)
            throw new ArgumentException($"endpoint name '{name}' is longer than {NameServiceMessage.NameSize - 1} bytes", nameof(name));
        if (announce && name.Length == 0) throw new ArgumentException("an announced endpoint needs a name", nameof(name));
        if (_state == RpmsgDeviceState.Failed) throw DeviceFailure();
        RpmsgEndpoint ep;
        lock (_gate)
        {
            if (address == RpmsgAddress.Any) address = AllocateAddress();
            else if (address == RpmsgAddress.NameService)
                throw new RpmsgException(RpmsgError.InvalidAddress, "address 53 belongs to the name service");
            ep = new RpmsgEndpoint(this, name, address, destination, callback, EndpointQueueCapacity, announce);
            if (_endpoints.TryGetValue(address, out RpmsgEndpoint? taken))
                throw new RpmsgException(RpmsgError.InvalidAddress, $"address 0x{address:x} is already taken by {taken}");
            Volatile.Write(ref _endpoints, new Dictionary<uint, RpmsgEndpoint>(_endpoints) { [address] = ep });
            if (address < DirectAddresses) Volatile.Write(ref _direct[address], ep);
            if (destination == RpmsgAddress.Any && name.Length > 0)
                foreach (RpmsgChannel ch in _channels)
                    if (ch.Name == name) { ep.Destination = ch.RemoteAddress; break; } // OpenAMP: bind to an announced service
        }
        if (announce) Announce(name, address, NameServiceFlags.Create);
        return ep;
    }

    private uint AllocateAddress()
    {
        // The lowest free address, as Linux's idr_alloc gives: a freed address is reused first.
        for (uint a = RpmsgAddress.FirstDynamic; a < RpmsgAddress.Any; a++)
            if (!_endpoints.ContainsKey(a)) return a;
        throw new RpmsgException(RpmsgError.InvalidAddress, "no free rpmsg address");
    }

    /// <summary>
    /// Binds channels named <paramref name="name"/> (already announced or announced later) to a driver: the probe
    /// creates the channel's endpoint, which is destroyed when the channel goes away.
    /// </summary>
    public void RegisterDriver(string name, Func<RpmsgChannel, RpmsgEndpoint?> probe)
    {
        List<RpmsgChannel> existing;
        lock (_gate)
        {
            _drivers[name] = probe;
            existing = _channels.Where(c => c.Name == name && c.Endpoint is null).ToList();
        }
        foreach (RpmsgChannel ch in existing) Probe(ch, probe);
    }

    private void Probe(RpmsgChannel ch, Func<RpmsgChannel, RpmsgEndpoint?> probe)
    {
        try { ch.Endpoint = probe(ch); }
        catch (Exception e) { Logger.LogError(e, "{Device}: driver for channel '{Name}' failed to probe", Name, ch.Name); }
    }

    internal void DestroyEndpoint(RpmsgEndpoint ep)
    {
        if (!ep.MarkDestroyed()) return;
        lock (_gate)
        {
            if (_endpoints.TryGetValue(ep.Address, out RpmsgEndpoint? current) && current == ep)
            {
                var next = new Dictionary<uint, RpmsgEndpoint>(_endpoints);
                next.Remove(ep.Address);
                Volatile.Write(ref _endpoints, next);
                if (ep.Address < DirectAddresses) Volatile.Write(ref _direct[ep.Address], null);
            }
        }
        // Before DRIVER_OK the destroy queues behind the create, so the peer never keeps a channel to nothing.
        if (ep.Announced && _state != RpmsgDeviceState.Failed) Announce(ep.Name, ep.Address, NameServiceFlags.Destroy);
    }

    private void Announce(string name, uint address, NameServiceFlags flags)
    {
        // Straight out only when nothing is queued: a destroy must not overtake the create it undoes.
        if (_state == RpmsgDeviceState.Ready && NameServiceEnabled && _pendingAnnouncements.IsEmpty && TrySendAnnouncement(name, address, flags)) return;
        _pendingAnnouncements.Enqueue((name, address, flags));
        Interlocked.Increment(ref _txWaiters);
        TxWaitersChanged();
    }

    private bool TrySendAnnouncement(string name, uint address, NameServiceFlags flags)
    {
        Span<byte> msg = stackalloc byte[NameServiceMessage.Size];
        new NameServiceMessage(name, address, flags).Write(msg);
        return Send(address, RpmsgAddress.NameService, msg, wait: false, null, default);
    }

    // A held message released on another thread: the loop hands the buffer back.
    private void RecycleRx(int id)
    {
        _rxReleased.Enqueue(id);
        Interlocked.Increment(ref _rxReleasedCount);
        Volatile.Read(ref _loop)?.Wake();
    }

    /// <summary>Takes a released receive buffer (loop thread); one plain read when there is none, as on every pass.</summary>
    protected bool TryTakeReleasedRx(out int id)
    {
        if (Volatile.Read(ref _rxReleasedCount) == 0 || !_rxReleased.TryDequeue(out id))
        {
            id = -1;
            return false;
        }
        Interlocked.Decrement(ref _rxReleasedCount);
        return true;
    }

    /// <summary>Sends announcements that could not go out at once (before ready, or no buffer); called on the loop thread.</summary>
    protected bool FlushAnnouncements()
    {
        // _txWaiters counts pending announcements too: one plain read keeps this off the per-pass cost of the loop.
        if (Volatile.Read(ref _txWaiters) == 0 || _state != RpmsgDeviceState.Ready || _pendingAnnouncements.IsEmpty) return false;
        bool did = false;
        while (_pendingAnnouncements.TryPeek(out var a))
        {
            if (NameServiceEnabled && !TrySendAnnouncement(a.Name, a.Address, a.Flags)) break;
            _pendingAnnouncements.TryDequeue(out _);
            Interlocked.Decrement(ref _txWaiters);
            did = true;
        }
        return did;
    }

    // ---- send paths ----

    internal bool Send(uint source, uint destination, ReadOnlySpan<byte> payload, bool wait, TimeSpan? timeout, CancellationToken cancellation)
    {
        if (source == RpmsgAddress.Any || destination == RpmsgAddress.Any)
            throw new RpmsgException(RpmsgError.InvalidAddress, $"cannot send from 0x{source:x} to 0x{destination:x}: RPMSG_ADDR_ANY is not an address");
        if (payload.Length > Mtu)
            throw new RpmsgException(RpmsgError.MessageTooLarge, $"payload of {payload.Length} bytes exceeds the {Mtu}-byte MTU of {Name}");
        ThrowIfNotReady();
        lock (TxLock)
        {
            // Fast path: one critical section from taking a buffer to handing it over.
            if (TryAcquireLocked(out int id, out int capacity))
            {
                FillAndSubmit(id, capacity, source, destination, payload);
                return true;
            }
        }
        if (!AcquireTx(wait, timeout, cancellation, out int slow, out int slowCapacity)) return false;
        lock (TxLock) FillAndSubmit(slow, slowCapacity, source, destination, payload);
        return true;
    }

    private void FillAndSubmit(int id, int capacity, uint source, uint destination, ReadOnlySpan<byte> payload)
    {
        if (payload.Length > capacity)
        {
            ReturnTxLocked(id);
            throw new RpmsgException(RpmsgError.MessageTooLarge, $"payload of {payload.Length} bytes exceeds the {capacity}-byte payload of the peer's buffer");
        }
        Span<byte> buf = TxSpan(id);
        new RpmsgHeader(source, destination, 0, (ushort)payload.Length, 0).Write(buf);
        payload.CopyTo(buf[RpmsgHeader.Size..]);
        Submit(id, payload.Length);
    }

    internal bool TryGetTxBuffer(bool wait, TimeSpan? timeout, CancellationToken cancellation, out RpmsgTxBuffer buffer)
    {
        if (!AcquireTx(wait, timeout, cancellation, out int id, out int capacity))
        {
            buffer = default;
            return false;
        }
        int gen = NextGeneration();
        Volatile.Write(ref _txOwner[id], gen);
        buffer = new RpmsgTxBuffer(this, id, capacity, gen);
        return true;
    }

    internal Span<byte> TxPayload(RpmsgTxBuffer b)
    {
        CheckOwned(b);
        return TxSpan(b.Id).Slice(RpmsgHeader.Size, b.Capacity);
    }

    internal void SendNoCopy(in RpmsgTxBuffer b, uint source, uint destination, int length)
    {
        if (source == RpmsgAddress.Any || destination == RpmsgAddress.Any)
            throw new RpmsgException(RpmsgError.InvalidAddress, $"cannot send from 0x{source:x} to 0x{destination:x}: RPMSG_ADDR_ANY is not an address");
        if ((uint)length > (uint)b.Capacity)
            throw new RpmsgException(RpmsgError.MessageTooLarge, $"length {length} is outside the {b.Capacity}-byte buffer");
        Disown(b);
        new RpmsgHeader(source, destination, 0, (ushort)length, 0).Write(TxSpan(b.Id));
        lock (TxLock) Submit(b.Id, length);
    }

    internal void ReleaseTxBuffer(in RpmsgTxBuffer b)
    {
        Disown(b);
        lock (TxLock) ReturnTxLocked(b.Id);
        SignalTxAvailable();
    }

    private void CheckOwned(in RpmsgTxBuffer b)
    {
        if (b.Generation == 0 || Volatile.Read(ref _txOwner[b.Id]) != b.Generation)
            throw new InvalidOperationException("this transmit buffer was already sent or released");
    }

    private void Disown(in RpmsgTxBuffer b)
    {
        if (b.Generation == 0 || Interlocked.CompareExchange(ref _txOwner[b.Id], 0, b.Generation) != b.Generation)
            throw new InvalidOperationException("this transmit buffer was already sent or released");
    }

    private int NextGeneration()
    {
        int g = Interlocked.Increment(ref _generation);
        return g == 0 ? Interlocked.Increment(ref _generation) : g;
    }

    // Called under TxLock, which also makes the plain counter updates safe.
    private void Submit(int id, int payloadLength)
    {
        try
        {
            SubmitTxLocked(id, RpmsgHeader.Size + payloadLength);
        }
        catch (VirtqueueException e)
        {
            Fail(e);
            throw DeviceFailure();
        }
        Statistics.Sent++;
        Statistics.BytesSent += payloadLength;
    }

    private bool AcquireTx(bool wait, TimeSpan? timeout, CancellationToken cancellation, out int id, out int capacity)
    {
        ThrowIfNotReady();
        if (TryAcquire(out id, out capacity)) return true;
        if (!wait) return false;
        Interlocked.Increment(ref Statistics.SendWaits);
        TimeSpan limit = timeout ?? SendTimeout;
        long deadline = limit == Timeout.InfiniteTimeSpan ? long.MaxValue : Environment.TickCount64 + (long)limit.TotalMilliseconds;
        if (OnLoopThread) return PollForTx(deadline, timeout, cancellation, out id, out capacity);
        Interlocked.Increment(ref _txWaiters);
        TxWaitersChanged();
        try
        {
            using CancellationTokenRegistration reg = cancellation.CanBeCanceled ? cancellation.Register(SignalTxAvailable) : default;
            lock (_txWait)
            {
                while (true)
                {
                    if (TryAcquire(out id, out capacity)) return true;
                    ThrowIfNotReady();
                    if (cancellation.IsCancellationRequested)
                        throw new RpmsgException(RpmsgError.Cancelled, "send cancelled while waiting for a transmit buffer");
                    long left = deadline - Environment.TickCount64;
                    if (left <= 0)
                        throw new RpmsgException(RpmsgError.Timeout, $"no transmit buffer became free within {(timeout ?? SendTimeout).TotalMilliseconds:F0} ms on {Name}");
                    Monitor.Wait(_txWait, (int)Math.Min(left, int.MaxValue));
                }
            }
        }
        finally
        {
            Interlocked.Decrement(ref _txWaiters);
            TxWaitersChanged();
        }
    }

    // A send from a receive callback runs on the loop that would wake a sleeping sender; it polls the ring instead.
    private bool PollForTx(long deadline, TimeSpan? timeout, CancellationToken cancellation, out int id, out int capacity)
    {
        var spin = new SpinWait();
        while (!TryAcquire(out id, out capacity))
        {
            ThrowIfNotReady();
            if (cancellation.IsCancellationRequested)
                throw new RpmsgException(RpmsgError.Cancelled, "send cancelled while waiting for a transmit buffer");
            if (Environment.TickCount64 >= deadline)
                throw new RpmsgException(RpmsgError.Timeout, $"no transmit buffer became free within {(timeout ?? SendTimeout).TotalMilliseconds:F0} ms on {Name}");
            spin.SpinOnce();
        }
        return true;
    }

    private bool TryAcquire(out int id, out int capacity)
    {
        lock (TxLock) return TryAcquireLocked(out id, out capacity);
    }

    private bool TryAcquireLocked(out int id, out int capacity)
    {
        try
        {
            return TryAcquireTxLocked(out id, out capacity);
        }
        catch (VirtqueueException e)
        {
            Fail(e);
            throw DeviceFailure();
        }
    }

    /// <summary>Senders waiting for a transmit buffer, plus announcements not sent yet.</summary>
    protected int TxWaiters => Volatile.Read(ref _txWaiters);

    internal int TxWaitersForLoop => TxWaiters;

    internal Lock TxLockForLoop => TxLock;

    /// <summary>Puts the receive and transmit work on <paramref name="loop"/>, woken by <paramref name="doorbell"/>.</summary>
    protected void AttachToLoop(NotificationLoop loop, Doorbell doorbell, IVirtqueueNotifications rx, Func<bool> processRx, IVirtqueueNotifications tx, Func<bool> processTx)
    {
        Volatile.Write(ref _loop, loop);
        loop.Add(new DeviceHandler(this, processRx, rx, processTx, tx, Name), doorbell);
    }

    // Work posted from other threads (a released buffer, a waiting sender) wakes the loop that drives the device.
    private void TxWaitersChanged() => Volatile.Read(ref _loop)?.Wake();

    private bool OnLoopThread => Volatile.Read(ref _loop)?.IsCurrentThread ?? false;

    /// <summary>Wakes blocked senders (the transport calls it when transmit buffers may have become free).</summary>
    protected void SignalTxAvailable()
    {
        lock (_txWait) Monitor.PulseAll(_txWait);
    }

    private void ThrowIfNotReady()
    {
        switch (_state)
        {
            case RpmsgDeviceState.Ready: return;
            case RpmsgDeviceState.Failed: throw DeviceFailure();
            default: throw new RpmsgException(RpmsgError.NotReady, $"{Name} is not ready (waiting for DRIVER_OK)");
        }
    }

    private RpmsgException DeviceFailure() =>
        new(RpmsgError.DeviceFailed, $"{Name} has failed: {_failure?.Message ?? "stopped"}");

    // ---- receive path ----

    /// <summary>
    /// Parses and dispatches one received buffer (<paramref name="buffer"/> = the bytes the peer wrote). Returns true
    /// when a callback held it; otherwise the transport recycles it at once. Malformed messages, unknown destinations
    /// and name-service traffic are handled here and never held.
    /// </summary>
    protected bool Deliver(ReadOnlySpan<byte> buffer, int bufferId)
    {
        if (buffer.Length < RpmsgHeader.Size)
        {
            Interlocked.Increment(ref Statistics.MalformedMessages);
            LogDrop("received buffer of {Length} bytes is shorter than the {HeaderSize}-byte rpmsg header", buffer.Length, RpmsgHeader.Size);
            return false;
        }
        RpmsgHeader h = RpmsgHeader.Read(buffer);
        if (h.Length > buffer.Length - RpmsgHeader.Size)
        {
            Interlocked.Increment(ref Statistics.MalformedMessages);
            LogDrop("header claims {Claimed} payload bytes but the buffer holds {Length}", h.Length, buffer.Length - RpmsgHeader.Size);
            return false;
        }
        ReadOnlySpan<byte> payload = buffer.Slice(RpmsgHeader.Size, h.Length);
        RpmsgEndpoint? ep = h.Destination < DirectAddresses ? Volatile.Read(ref _direct[h.Destination]) : Volatile.Read(ref _endpoints).GetValueOrDefault(h.Destination);
        if (h.Destination == RpmsgAddress.NameService && NameServiceEnabled && ep is null)
        {
            OnNameService(payload, h.Source);
            return false;
        }
        if (ep is null)
        {
            Interlocked.Increment(ref Statistics.UnknownDestination);
            LogDrop("message for 0x{Destination:x}, which has no endpoint (from 0x{Source:x})", h.Destination, h.Source);
            return false;
        }
        if (ep.Destination == RpmsgAddress.Any) ep.Destination = h.Source;
        Statistics.Received++;  // single writer: the loop thread
        Statistics.BytesReceived += h.Length;
        _holdCandidate = bufferId;
        _held = null;
        try
        {
            ep.Deliver(new RpmsgReceivedMessage(this, ep, h.Source, payload, bufferId));
        }
        catch (Exception e)
        {
            Interlocked.Increment(ref Statistics.CallbackFailures);
            Logger.LogError(e, "{Device}: receive callback of {Endpoint} threw; message dropped", Name, ep);
        }
        _holdCandidate = -1;
        return _held is not null;
    }

    internal RpmsgHeldBuffer HoldCurrent(int bufferId, uint source, int length)
    {
        if (bufferId != _holdCandidate || _held is not null)
            throw new InvalidOperationException("a message can be held only once, and only inside its receive callback");
        int gen = NextGeneration();
        Volatile.Write(ref _rxHeld[bufferId], gen);
        _held = new RpmsgHeldBuffer(this, bufferId, gen, source, length);
        return _held.Value;
    }

    internal ReadOnlySpan<byte> HeldPayload(int bufferId, int generation, int length)
    {
        if (generation == 0 || Volatile.Read(ref _rxHeld[bufferId]) != generation)
            throw new InvalidOperationException("this receive buffer was already released");
        return RxSpan(bufferId).Slice(RpmsgHeader.Size, length);
    }

    internal void ReleaseHeld(int bufferId, int generation)
    {
        if (generation == 0 || Interlocked.CompareExchange(ref _rxHeld[bufferId], 0, generation) != generation)
            throw new InvalidOperationException("this receive buffer was already released");
        RecycleRx(bufferId);
    }

    private void LogDrop(string message, object a, object b)
    {
        long n = Interlocked.Increment(ref _loggedDrops);
        if (n <= 10 || n % 1000 == 0)
#pragma warning disable CA2254 // the template is one of a few constants
            Logger.LogWarning($"{{Device}}: dropped: {message} (drop #{{Count}})", Name, a, b, n);
#pragma warning restore CA2254
    }

    // A hostile peer can send these as fast as it likes: the first ten are logged, then every thousandth.
    private void LogNameServiceFault(string message, object a, object b, object c)
    {
        long n = Interlocked.Increment(ref _loggedNameServiceFaults);
        if (n <= 10 || n % 1000 == 0)
#pragma warning disable CA2254 // the template is one of a few constants
            Logger.LogWarning($"{{Device}}: name service: {message} (fault #{{Count}})", Name, a, b, c, n);
#pragma warning restore CA2254
    }

    private void OnNameService(ReadOnlySpan<byte> payload, uint source)
    {
        NameServiceFault fault = NameServiceMessage.TryRead(payload, out NameServiceMessage m);
        if (fault != NameServiceFault.None)
        {
            Interlocked.Increment(ref Statistics.NameServiceMalformed);
            LogNameServiceFault("malformed message from 0x{Source:x} ({Length} bytes): {Fault}", source, payload.Length, fault);
            return;
        }
        RpmsgChannel? created = null, removed = null;
        Func<RpmsgChannel, RpmsgEndpoint?>? driver = null;
        lock (_gate)
        {
            int i = _channels.FindIndex(c => c.Name == m.Name && c.RemoteAddress == m.Address);
            if (m.Flags == NameServiceFlags.Destroy)
            {
                if (i < 0)
                {
                    Interlocked.Increment(ref Statistics.NameServiceUnknownDestroy);
                    LogNameServiceFault("destroy of unknown channel '{Name}' at 0x{Address:x} from 0x{Source:x}", m.Name, m.Address, source);
                    return;
                }
                removed = _channels[i];
                _channels.RemoveAt(i);
            }
            else
            {
                if (i >= 0)
                {
                    Interlocked.Increment(ref Statistics.NameServiceDuplicates);
                    LogNameServiceFault("channel '{Name}' at 0x{Address:x} already exists (from 0x{Source:x})", m.Name, m.Address, source);
                    return;
                }
                if (_channels.Count >= MaxChannels)
                {
                    Interlocked.Increment(ref Statistics.NameServiceMalformed);
                    LogNameServiceFault("channel '{Name}' at 0x{Address:x} refused: {Limit} channels already exist", m.Name, m.Address, MaxChannels);
                    return;
                }
                created = new RpmsgChannel(m.Name, m.Address);
                _channels.Add(created);
                _drivers.TryGetValue(m.Name, out driver);
                foreach (RpmsgEndpoint ep in _endpoints.Values)
                    if (ep.Name == m.Name && ep.Destination == RpmsgAddress.Any) ep.Destination = m.Address;
            }
        }
        if (created is not null)
        {
            Logger.LogInformation("{Device}: channel '{Name}' announced at 0x{Address:x}", Name, m.Name, m.Address);
            if (driver is not null) Probe(created, driver);
            Raise(ChannelCreated, created);
        }
        if (removed is not null)
        {
            Logger.LogInformation("{Device}: channel '{Name}' at 0x{Address:x} withdrawn", Name, m.Name, m.Address);
            removed.Endpoint?.Dispose();
            Raise(ChannelRemoved, removed);
        }
    }

    private void Raise(Action<RpmsgChannel>? handler, RpmsgChannel ch)
    {
        try { handler?.Invoke(ch); }
        catch (Exception e) { Logger.LogError(e, "{Device}: channel event handler failed", Name); }
    }

    // ---- lifecycle ----

    /// <summary>Marks the device ready and sends queued announcements.</summary>
    protected void MarkReady()
    {
        if (_state != RpmsgDeviceState.Starting) return;
        _state = RpmsgDeviceState.Ready;
        FlushAnnouncements();
    }

    /// <summary>
    /// Fails the device: every endpoint is destroyed, every channel removed, blocked senders return
    /// <see cref="RpmsgError.DeviceFailed"/>, <see cref="DeviceFailed"/> is raised. Other devices and the process are untouched.
    /// </summary>
    /// <remarks>Something of ours disposed under the device (<see cref="ObjectDisposedException"/>) means it is being stopped, not failing.</remarks>
    protected internal void Fail(Exception reason) => Shutdown(reason, failed: reason is not ObjectDisposedException);

    private void Shutdown(Exception reason, bool failed)
    {
        lock (_gate)
        {
            if (_state == RpmsgDeviceState.Failed) return;
            _failure = reason;
            _state = RpmsgDeviceState.Failed;
        }
        if (failed)
        {
            Logger.LogError(reason, "{Device}: failed: {Reason}", Name, reason.Message);
            OnFailed(reason);
        }
        else
        {
            Logger.LogInformation("{Device}: stopped", Name);
            OnStopped();
        }
        Dictionary<uint, RpmsgEndpoint> all;
        lock (_gate)
        {
            all = _endpoints;
            Volatile.Write(ref _endpoints, []);
            Array.Clear(_direct);
        }
        foreach (RpmsgEndpoint ep in all.Values) ep.MarkDestroyed();
        List<RpmsgChannel> gone;
        lock (_gate)
        {
            gone = [.. _channels];
            _channels.Clear();
        }
        foreach (RpmsgChannel ch in gone) Raise(ChannelRemoved, ch);
        SignalTxAvailable();
        if (!failed) return;
        try { DeviceFailed?.Invoke(reason); }
        catch (Exception e) { Logger.LogError(e, "{Device}: failure handler failed", Name); }
    }

    /// <summary>Lets the transport record the failure where the peer can see it (status byte).</summary>
    protected virtual void OnFailed(Exception reason) { }

    /// <summary>Lets the transport tell the peer the device stopped cleanly.</summary>
    protected virtual void OnStopped() { }

    /// <summary>Stops the device: the same teardown as a failure, without <see cref="DeviceFailed"/>.</summary>
    public virtual void Dispose()
    {
        Shutdown(new ObjectDisposedException(Name, $"{Name} was stopped"), failed: false);
        Statistics.Dispose();
        GC.SuppressFinalize(this);
    }

    // ---- transport hooks ----

    /// <summary>Takes a free transmit buffer (under <see cref="TxLock"/>); <paramref name="capacity"/> is its payload size.</summary>
    protected abstract bool TryAcquireTxLocked(out int id, out int capacity);

    /// <summary>The whole transmit buffer (header + payload).</summary>
    protected abstract Span<byte> TxSpan(int id);

    /// <summary>Hands a filled transmit buffer to the peer (under <see cref="TxLock"/>).</summary>
    protected abstract void SubmitTxLocked(int id, int totalLength);

    /// <summary>Takes back a transmit buffer that was not sent (under <see cref="TxLock"/>).</summary>
    protected abstract void ReturnTxLocked(int id);

    /// <summary>The whole receive buffer (header + payload) of a held message.</summary>
    protected abstract ReadOnlySpan<byte> RxSpan(int id);



}

/// <summary>
/// The loop's view of one rpmsg device: receive work first (it carries the peer's messages), then transmit
/// housekeeping; one handler per device keeps a busy loop's pass short.
/// </summary>
internal sealed class DeviceHandler(RpmsgBus bus, Func<bool> processRx, IVirtqueueNotifications rx, Func<bool> processTx, IVirtqueueNotifications tx, string name) : INotificationHandler
{
    public bool Process()
    {
        try
        {
            return processRx() | processTx();
        }
        catch (Exception e)
        {
            // Whatever the cause, fail this device (senders learn at once, the peer sees the status) rather than let
            // the loop drop the handler and leave a device that looks ready and never moves again.
            bus.Fail(e);
            return false;
        }
    }

    public bool ArmNotifications()
    {
        if (bus.State == RpmsgDeviceState.Failed) return false;
        try
        {
            bool pending = rx.EnableNotifications();
            // Transmit notifications only matter to senders waiting for a buffer.
            if (bus.TxWaitersForLoop != 0)
                lock (bus.TxLockForLoop) pending |= tx.EnableNotifications();
            return pending;
        }
        catch (Exception e)
        {
            bus.Fail(e);
            return false;
        }
    }

    public void DisarmNotifications()
    {
        if (bus.State == RpmsgDeviceState.Failed) return;
        try
        {
            rx.DisableNotifications();
            lock (bus.TxLockForLoop) tx.DisableNotifications();
        }
        catch (Exception e)
        {
            bus.Fail(e);
        }
    }

    public override string ToString() => name;
}

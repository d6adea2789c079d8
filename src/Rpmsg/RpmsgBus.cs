using AmpCan.Rpmsg.Wire;
using AmpCan.SharedMem.Diagnostics;
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
    /// <summary>The peer broke the protocol, left, or the device was torn down; every endpoint is gone.</summary>
    Failed,
}

/// <summary>
/// The role-independent rpmsg core, as Linux <c>rpmsg_core.c</c>: endpoints and their addresses, dispatch of received
/// messages, channels and drivers, and the device's lifecycle. The name service (<see cref="RpmsgNameService"/>) is an
/// endpoint on address 53; the send paths live in <see cref="RpmsgTransmitter"/>; a transport
/// (<see cref="VirtioRpmsgHost"/>, <see cref="VirtioRpmsgRemote"/>) supplies buffers and moves them over the vrings.
/// </summary>
public abstract class RpmsgBus : IDisposable
{
    private readonly RpmsgEndpointTable _endpoints = new();
    /// <summary>Channels one peer may have announced at once; beyond it announcements are refused and counted (a hostile peer cannot grow our memory without bound).</summary>
    public const int MaxChannels = 1024;
    private readonly Lock _gate = new();
    private readonly RpmsgTransmitter _tx;
    private readonly RpmsgHeldBuffers _held;
    private readonly RateLimitedLog _dropLog = new();
    private readonly RateLimitedLog _callbackLog = new();
    private RpmsgDeviceHandler? _handler;
    private NotificationLoop? _loop;
    private IReadOnlyList<Doorbell> _incoming = [];
    private volatile RpmsgDeviceState _state;
    private Exception? _failure;

    /// <summary>Guards the transmit side (as Linux's tx_lock): the transport's *Locked hooks run under it.</summary>
    protected internal readonly Lock TxLock = new();

    /// <summary>Creates the core; <paramref name="txIds"/> and <paramref name="rxIds"/> bound the transport's buffer ids.</summary>
    protected RpmsgBus(string name, int txIds, int rxIds, TimeSpan? sendTimeout, int endpointQueueCapacity, ILogger? logger)
    {
        Name = name;
        Logger = logger ?? NullLogger.Instance;
        SendTimeout = sendTimeout ?? VirtioRpmsg.DefaultSendTimeout;
        EndpointQueueCapacity = endpointQueueCapacity > 0 ? endpointQueueCapacity
            : throw new ArgumentOutOfRangeException(nameof(endpointQueueCapacity), "endpoint queue capacity must be positive");
        _tx = new RpmsgTransmitter(this, txIds, postCapacity: Math.Max(endpointQueueCapacity, MaxChannels));
        _held = new RpmsgHeldBuffers(rxIds);
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

    /// <summary>How long a thread waiting for a reply polls the receive ring itself before it sleeps (0: never polls).</summary>
    public TimeSpan ReplyPollBudget { get; protected init; } = TimeSpan.FromMicroseconds(200);

    /// <summary>Counters.</summary>
    public RpmsgStatistics Statistics { get; }

    /// <summary>Where the device stands.</summary>
    public RpmsgDeviceState State => _state;

    /// <summary>True when messages can flow.</summary>
    public bool IsReady => _state == RpmsgDeviceState.Ready;

    /// <summary>The violation or error that failed the device (or why it stopped), if any.</summary>
    public Exception? Failure => _failure;

    /// <summary>True when VIRTIO_RPMSG_F_NS was negotiated.</summary>
    public bool NameServiceEnabled { get; protected set; }

    /// <summary>Largest payload one message can carry.</summary>
    public abstract int Mtu { get; }

    /// <summary>Raised when the peer announces a channel (on the thread processing the receive queue).</summary>
    public event Action<RpmsgChannel>? ChannelCreated;

    /// <summary>Raised when the peer withdraws a channel or the device stops.</summary>
    public event Action<RpmsgChannel>? ChannelRemoved;

    /// <summary>Raised once when the device fails (not when it is stopped, nor when the peer leaves).</summary>
    public event Action<Exception>? DeviceFailed;

    /// <summary>Raised once when the peer left (closed its doorbell); channels are gone, sends fail.</summary>
    public event Action<Exception>? PeerLeft;

    /// <summary>
    /// Raised once when the device leaves service for any reason (failed, peer left, stopped, detached), after its
    /// endpoints and channels are gone: what Linux's virtio_rpmsg_remove does to the drivers bound on the device.
    /// </summary>
    public event Action<Exception>? ShutDown;

    /// <summary>
    /// Raised (on the device's loop) when transmit buffers may have become free while a <see cref="RpmsgTxWaiter"/> is
    /// armed, and once more when the device stops: what wakes Linux's rpmsg_poll sleepers waiting for EPOLLOUT.
    /// </summary>
    public event Action? TransmitSpaceAvailable;

    /// <summary>True when a send would find a transmit buffer now (Linux's EPOLLOUT from rpmsg_poll); false unless ready.</summary>
    public bool HasFreeTxBuffer
    {
        get
        {
            if (_state != RpmsgDeviceState.Ready) return false;
            lock (TxLock)
            {
                try { return HasFreeTxLocked(); }
                catch (Exception e) when (e is Vring.VirtqueueException or IOException) { return false; }
            }
        }
    }

    /// <summary>Channels the peer has announced and not withdrawn.</summary>
    public IReadOnlyList<RpmsgChannel> Channels => ChannelTable.Snapshot;

    /// <summary>Local endpoints.</summary>
    public IReadOnlyCollection<RpmsgEndpoint> Endpoints => [.. _endpoints.All];

    internal RpmsgChannelTable ChannelTable { get; } = new();

    // ---- endpoints ----

    /// <summary>
    /// Creates an endpoint. <paramref name="address"/> ANY allocates the lowest free address from 1024 up.
    /// Without a callback the endpoint queues messages for <see cref="RpmsgEndpoint.Receive"/>. With
    /// <paramref name="announce"/> the name service tells the peer about it (and about its destruction).
    /// </summary>
    public RpmsgEndpoint CreateEndpoint(string name, RpmsgReceiveCallback? callback, uint address = RpmsgAddress.Any, uint destination = RpmsgAddress.Any, bool announce = false)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (System.Text.Encoding.UTF8.GetByteCount(name) >= NameServiceMessage.NameSize)
            throw new ArgumentException($"endpoint name '{name}' is longer than {NameServiceMessage.NameSize - 1} bytes", nameof(name));
        if (announce && name.Length == 0) throw new ArgumentException("an announced endpoint needs a name", nameof(name));
        if (address == RpmsgAddress.NameService)
            throw new RpmsgException(RpmsgError.InvalidAddress, "address 53 belongs to the name service");
        RpmsgEndpoint ep = Register(name, address, destination, callback, announce);
        if (announce)
        {
            try { RpmsgNameService.Announce(this, name, ep.Address, NameServiceFlags.Create); }
            catch
            {
                Unregister(ep);
                throw;
            }
        }
        return ep;
    }

    /// <summary>
    /// The endpoint of a driver bound to <paramref name="channel"/>, as Linux's <c>rpmsg_dev_probe</c> makes it: named after the
    /// channel, on the channel's local address (ANY: the lowest free), sending to the peer's address.
    /// </summary>
    public RpmsgEndpoint CreateEndpoint(RpmsgChannel channel, RpmsgReceiveCallback? callback)
    {
        ArgumentNullException.ThrowIfNull(channel);
        return CreateEndpoint(channel.Name, callback, channel.LocalAddress, channel.RemoteAddress);
    }

    /// <summary>
    /// Channels carried over from a detached host: each is listed as if just announced, its driver's endpoint to take
    /// the local address it had, so the peer's endpoints, still bound to those addresses, reach it again.
    /// </summary>
    protected void RestoreChannels(IEnumerable<RpmsgChannelRecord> channels)
    {
        foreach (RpmsgChannelRecord c in channels)
        {
            if (ChannelTable.Add(c.Name, c.RemoteAddress, out RpmsgChannel? ch, out Func<RpmsgChannel, RpmsgEndpoint?>? driver, c.LocalAddress) != ChannelAddResult.Created)
            {
                Logger.LogWarning("{Device}: channel '{Name}' at 0x{Address:x} from the detach record not restored (a duplicate, or too many)", Name, PeerText.Escape(c.Name), c.RemoteAddress);
                continue;
            }
            OnChannelCreated(ch!, driver);
        }
    }

    /// <summary>The channels as a detach record keeps them: name, the peer's address, our endpoint's address (or the one reserved for it).</summary>
    public List<RpmsgChannelRecord> ChannelRecords() =>
        [.. ChannelTable.Snapshot.Select(c => new RpmsgChannelRecord(c.Name, c.RemoteAddress, c.Endpoint is { IsDestroyed: false } ep ? ep.Address : c.LocalAddress))];

    /// <summary>An endpoint on a reserved address (the name service's 53).</summary>
    internal RpmsgEndpoint CreateReservedEndpoint(string name, uint address, RpmsgReceiveCallback callback) =>
        Register(name, address, RpmsgAddress.Any, callback, announce: false);

    private RpmsgEndpoint Register(string name, uint address, uint destination, RpmsgReceiveCallback? callback, bool announce)
    {
        if (_state == RpmsgDeviceState.Failed) throw DeviceFailure();
        return _endpoints.Add(address, a =>
        {
            var ep = new RpmsgEndpoint(this, name, a, destination, callback, EndpointQueueCapacity, announce);
            // OpenAMP binds an endpoint to an announced service of the same name.
            if (destination == RpmsgAddress.Any && name.Length > 0 && ChannelTable.AddressOf(name) is uint remote) ep.Destination = remote;
            return ep;
        });
    }

    private bool Unregister(RpmsgEndpoint ep)
    {
        if (!ep.MarkDestroyed()) return false;
        _endpoints.Remove(ep);
        return true;
    }

    internal void DestroyEndpoint(RpmsgEndpoint ep)
    {
        if (!Unregister(ep)) return;
        ep.WaitForCallback();
        // Before DRIVER_OK the destroy queues behind the create, so the peer never keeps a channel to nothing.
        if (ep.Announced && _state != RpmsgDeviceState.Failed)
        {
            try { RpmsgNameService.Announce(this, ep.Name, ep.Address, NameServiceFlags.Destroy); }
            catch (RpmsgException e) when (e.Error is RpmsgError.DeviceFailed or RpmsgError.NotReady) { }
        }
    }

    /// <summary>
    /// Binds channels named <paramref name="name"/> (already announced or announced later) to a driver: the probe
    /// creates the channel's endpoint, which is destroyed when the channel goes away.
    /// </summary>
    public void RegisterDriver(string name, Func<RpmsgChannel, RpmsgEndpoint?> probe)
    {
        foreach (RpmsgChannel ch in ChannelTable.RegisterDriver(name, probe)) Probe(ch, probe);
    }

    private void Probe(RpmsgChannel ch, Func<RpmsgChannel, RpmsgEndpoint?> probe)
    {
        try { ch.Endpoint = probe(ch); }
        catch (Exception e) { Logger.LogError(e, "{Device}: driver for channel '{Name}' failed to probe", Name, PeerText.Escape(ch.Name)); }
    }

    internal void OnChannelCreated(RpmsgChannel ch, Func<RpmsgChannel, RpmsgEndpoint?>? driver)
    {
        foreach (RpmsgEndpoint ep in _endpoints.All)
            if (ep.Name == ch.Name && ep.Destination == RpmsgAddress.Any) ep.Destination = ch.RemoteAddress;
        if (driver is not null) Probe(ch, driver);
        Raise(ChannelCreated, ch);
    }

    internal void OnChannelRemoved(RpmsgChannel ch)
    {
        ch.Endpoint?.Dispose();
        Raise(ChannelRemoved, ch);
    }

    private void Raise(Action<RpmsgChannel>? handler, RpmsgChannel ch)
    {
        try { handler?.Invoke(ch); }
        catch (Exception e) { Logger.LogError(e, "{Device}: channel event handler failed", Name); }
    }

    // ---- send paths (RpmsgTransmitter) ----

    internal bool Send(uint source, uint destination, ReadOnlySpan<byte> payload, bool wait, TimeSpan? timeout, CancellationToken cancellation) =>
        _tx.Send(source, destination, payload, wait, timeout, cancellation);

    internal bool Post(uint source, uint destination, ReadOnlySpan<byte> payload, bool force = false) => _tx.Post(source, destination, payload, force);

    internal bool TryGetTxBuffer(bool wait, TimeSpan? timeout, CancellationToken cancellation, out RpmsgTxBuffer buffer) =>
        _tx.TryGetBuffer(wait, timeout, cancellation, out buffer);

    internal Span<byte> TxPayload(RpmsgTxBuffer b) => _tx.Payload(b);

    internal void SendNoCopy(in RpmsgTxBuffer b, uint source, uint destination, int length) => _tx.SendNoCopy(b, source, destination, length);

    internal void ReleaseTxBuffer(in RpmsgTxBuffer b) => _tx.Release(b);

    internal void ReportUnsendablePost(uint destination, int length, string why)
    {
        if (_dropLog.ShouldLog(out long s))
            Logger.LogWarning("{Device}: a posted message of {Length} bytes to 0x{Destination:x} was dropped: {Reason}{Suppressed}", Name, length, destination, why, RateLimitedLog.Note(s));
    }

    /// <summary>Senders waiting for a transmit buffer, plus one while posted messages wait.</summary>
    protected int TxWaiters => _tx.Waiters;

    /// <summary>A handle for a non-blocking sender to be woken when transmit buffers come back (see <see cref="RpmsgTxWaiter"/>).</summary>
    public RpmsgTxWaiter CreateTxWaiter() => new(this);

    internal void AddTxWaiter()
    {
        _tx.AddWaiter();
        WakeLoop();
    }

    internal void RemoveTxWaiter() => _tx.RemoveWaiter();

    internal void OnLastTxWaiterLeft()
    {
        if (_state != RpmsgDeviceState.Ready) return;
        try { _handler?.DisarmTxIfUnused(); }
        catch (Exception e) when (e is Vring.VirtqueueException or IOException) { Fail(e); }
    }

    // Turns transmit-complete notifications on now (the loop may be about to park without them) and says whether a
    // buffer may already be free.
    internal bool ArmTxNotifications()
    {
        if (_state != RpmsgDeviceState.Ready) return _state == RpmsgDeviceState.Failed;
        RpmsgDeviceHandler? h = _handler;
        if (h is null) return true;
        lock (TxLock)
        {
            try { return h.ArmTxLocked() | HasFreeTxLocked(); }
            catch (Exception e) when (e is Vring.VirtqueueException or IOException)
            {
                Fail(e);
                return true;
            }
        }
    }

    internal int TxWaitersForHandler => _tx.Waiters;

    /// <summary>Sends posted messages and queued announcements while buffers are free; called by the transport's transmit work.</summary>
    protected bool FlushPosted() => _tx.FlushPosted();

    /// <summary>Wakes blocked senders (the transport calls it when transmit buffers may have become free).</summary>
    protected void SignalTxAvailable()
    {
        _tx.SignalAvailable();
        RaiseTransmitSpaceAvailable();
    }

    private void RaiseTransmitSpaceAvailable()
    {
        try { TransmitSpaceAvailable?.Invoke(); }
        catch (Exception e) { Logger.LogError(e, "{Device}: transmit-space handler failed", Name); }
    }

    internal void WakeLoop() => Volatile.Read(ref _loop)?.Wake();

    internal void ThrowIfNotReady()
    {
        switch (_state)
        {
            case RpmsgDeviceState.Ready: return;
            case RpmsgDeviceState.Failed: throw DeviceFailure();
            default: throw new RpmsgException(RpmsgError.NotReady, $"{Name} is not ready (waiting for DRIVER_OK)");
        }
    }

    private RpmsgException DeviceFailure() =>
        new(RpmsgError.DeviceFailed, $"{Name} has {(_failure is RpmsgPeerLeftException ? "no peer" : "failed")}: {_failure?.Message ?? "stopped"}");

    // Transport hooks, under TxLock where named *Locked; failures of the ring or the doorbell fail the device here, in one place.
    internal bool TryAcquireTx(out int id, out int capacity)
    {
        try { return TryAcquireTxLocked(out id, out capacity); }
        catch (Exception e) when (e is VirtqueueException or IOException)
        {
            Fail(e);
            throw DeviceFailure();
        }
    }

    internal Span<byte> TxBufferSpan(int id) => TxSpan(id);

    internal void ReturnTx(int id) => ReturnTxLocked(id);

    // Called under TxLock, which also makes the plain counter updates safe.
    internal void SubmitTx(int id, int payloadLength)
    {
        try
        {
            SubmitTxLocked(id, RpmsgHeader.Size + payloadLength);
        }
        catch (Exception e) when (e is VirtqueueException or IOException)
        {
            // The buffer may already be in the ring; the caller learns the message did not reach a live peer.
            Fail(e);
            throw DeviceFailure();
        }
        Statistics.Sent++;
        Statistics.BytesSent += payloadLength;
    }

    // ---- the thread that processes the receive queue ----

    /// <summary>True on the thread processing the receive queue right now (a callback's thread).</summary>
    internal bool InReceiveContext => _handler?.IsReceiveOwner ?? false;

    /// <summary>Puts the receive and transmit work on <paramref name="loop"/>, woken by <paramref name="incoming"/>; the loop owns both from now on.</summary>
    protected void AttachToLoop(NotificationLoop loop, IReadOnlyList<Doorbell> incoming, IVirtqueueNotifications rx, Func<bool> processRx, IVirtqueueNotifications tx, Func<bool> processTx)
    {
        var handler = new RpmsgDeviceHandler(this, processRx, rx, processTx, tx, loop.Allowance);
        Volatile.Write(ref _handler, handler);
        Volatile.Write(ref _loop, loop);
        _incoming = incoming;
        loop.DoorbellFailed += OnDoorbellFailed;
        loop.Add(handler, incoming);
    }

    // The loop stopped watching one of our doorbells: the peer left (a closed socket) or the kernel failed it.
    private void OnDoorbellFailed(Doorbell bell, Exception e)
    {
        foreach (Doorbell d in _incoming)
            if (d == bell) Fail(e);
    }

    /// <summary>
    /// Lets a thread waiting for a message on <paramref name="queue"/> process the receive ring itself for up to
    /// <see cref="ReplyPollBudget"/>, as Linux's busy polling does; true once the queue holds a message.
    /// </summary>
    internal bool PollForReply(RpmsgEndpointQueue queue)
    {
        RpmsgDeviceHandler? h = Volatile.Read(ref _handler);
        NotificationLoop? loop = Volatile.Read(ref _loop);
        // Only an adaptive loop yields its spin to a poller: a doorbell loop spends no CPU on waiting, a polling one
        // already spins, and a second spinner would take the core the peer or the application needs.
        if (h is null || loop is null || loop.Mode != NotificationMode.Adaptive || ReplyPollBudget <= TimeSpan.Zero || loop.IsCurrentThread || h.IsReceiveOwner)
            return queue.HasMessages;
        return h.PollUntil(queue, ReplyPollBudget);
    }

    /// <summary>Takes a released receive buffer (receive thread); one plain read when there is none, as on every pass.</summary>
    protected bool TryTakeReleasedRx(out int id) => _held.TryTakeReleased(out id);

    /// <summary>
    /// Parses and dispatches one received buffer (<paramref name="buffer"/> = the bytes the peer wrote). Returns true
    /// when a callback held it; otherwise the transport recycles it at once. Malformed messages and unknown
    /// destinations are counted and dropped, never held.
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
        RpmsgEndpoint? ep = _endpoints.Find(h.Destination);
        if (ep is null)
        {
            Interlocked.Increment(ref Statistics.UnknownDestination);
            LogDrop("message for 0x{Destination:x}, which has no endpoint (from 0x{Source:x})", h.Destination, h.Source);
            return false;
        }
        if (ep.Destination == RpmsgAddress.Any) ep.Destination = h.Source;
        _held.BeginDelivery(bufferId);
        DeliveryResult result;
        try
        {
            result = ep.Deliver(new RpmsgReceivedMessage(this, ep, h.Source, payload, bufferId));
        }
        catch (Exception e)
        {
            result = DeliveryResult.Delivered;
            Interlocked.Increment(ref Statistics.CallbackFailures);
            if (_callbackLog.ShouldLog(out long s))
                Logger.LogError(e, "{Device}: receive callback of {Endpoint} threw; message dropped{Suppressed}", Name, ep, RateLimitedLog.Note(s));
        }
        bool held = _held.EndDelivery();
        switch (result)
        {
            case DeliveryResult.Delivered:
                Statistics.Received++;  // single writer: the receive thread
                Statistics.BytesReceived += h.Length;
                break;
            case DeliveryResult.QueueFull:
                Interlocked.Increment(ref Statistics.QueueOverflow);
                break;
            case DeliveryResult.EndpointGone:
                Interlocked.Increment(ref Statistics.EndpointGone);
                break;
        }
        return held;
    }

    internal RpmsgHeldBuffer HoldCurrent(int bufferId, uint source, int length) =>
        new(this, bufferId, _held.Hold(bufferId), source, length);

    internal ReadOnlySpan<byte> HeldPayload(int bufferId, int generation, int length)
    {
        _held.CheckHeld(bufferId, generation);
        return RxSpan(bufferId).Slice(RpmsgHeader.Size, length);
    }

    internal void ReleaseHeld(int bufferId, int generation)
    {
        _held.Release(bufferId, generation);
        WakeLoop(); // the receive thread gives the buffer back to the peer
    }

    private void LogDrop(string message, object a, object b)
    {
        if (!_dropLog.ShouldLog(out long suppressed)) return;
#pragma warning disable CA2254 // the template is one of a few constants
        Logger.LogWarning($"{{Device}}: dropped: {message}{{Suppressed}}", Name, a, b, RateLimitedLog.Note(suppressed));
#pragma warning restore CA2254
    }

    // ---- lifecycle ----

    /// <summary>Marks the device ready; the name service starts, and queued announcements go out from the device's loop.</summary>
    protected void MarkReady()
    {
        if (_state != RpmsgDeviceState.Starting) return;
        if (NameServiceEnabled) _ = new RpmsgNameService(this, Logger);
        _state = RpmsgDeviceState.Ready;
        WakeLoop();
    }

    /// <summary>
    /// Fails the device: every endpoint is destroyed, every channel removed, blocked senders return
    /// <see cref="RpmsgError.DeviceFailed"/>, <see cref="DeviceFailed"/> is raised. Other devices and the process are untouched.
    /// A closed doorbell means the peer left (<see cref="PeerLeft"/>, one info line); something of ours disposed under
    /// the device (<see cref="ObjectDisposedException"/>) means it is being stopped.
    /// </summary>
    protected internal void Fail(Exception reason)
    {
        if (reason is DoorbellClosedException) Shutdown(new RpmsgPeerLeftException($"the peer left ({reason.Message})", reason), ShutdownKind.PeerLeft);
        else Shutdown(reason, reason is ObjectDisposedException ? ShutdownKind.Stopped : ShutdownKind.Failed);
    }

    private enum ShutdownKind { Failed, PeerLeft, Stopped, Detached }

    /// <summary>
    /// Stops serving the device without telling the peer (no reset): endpoints and channels go as in a stop, users get
    /// errors, and once this returns the loop no longer touches the queues, which stay exactly as they are for the next
    /// driver to take over.
    /// </summary>
    protected void DetachFromDevice()
    {
        Shutdown(new ObjectDisposedException(Name, $"{Name} was detached"), ShutdownKind.Detached);
        NotificationLoop? loop = Volatile.Read(ref _loop);
        if (loop is not null)
        {
            loop.DoorbellFailed -= OnDoorbellFailed;
            if (_handler is not null) loop.RemoveAndWait(_handler);
        }
    }

    private void Shutdown(Exception reason, ShutdownKind kind)
    {
        lock (_gate)
        {
            if (_state == RpmsgDeviceState.Failed) return;
            _failure = reason;
            _state = RpmsgDeviceState.Failed;
        }
        switch (kind)
        {
            case ShutdownKind.Failed:
                Logger.LogError("{Device}: failed: {Reason}", Name, reason.Message);
                OnFailed(reason);
                break;
            case ShutdownKind.PeerLeft:
                Logger.LogInformation("{Device}: {Reason}", Name, reason.Message);
                OnStopped();
                break;
            case ShutdownKind.Detached:
                Logger.LogInformation("{Device}: detached; the device is left running as it is", Name);
                break;
            default:
                Logger.LogInformation("{Device}: stopped", Name);
                OnStopped();
                break;
        }
        foreach (RpmsgEndpoint ep in _endpoints.Clear()) ep.MarkDestroyed();
        foreach (RpmsgChannel ch in ChannelTable.Clear()) Raise(ChannelRemoved, ch);
        _tx.DropPosted();
        _tx.SignalAvailable();
        Action<Exception>? evt = kind switch { ShutdownKind.Failed => DeviceFailed, ShutdownKind.PeerLeft => PeerLeft, _ => null };
        try { evt?.Invoke(reason); }
        catch (Exception e) { Logger.LogError(e, "{Device}: failure handler failed", Name); }
        try { ShutDown?.Invoke(reason); }
        catch (Exception e) { Logger.LogError(e, "{Device}: shutdown handler failed", Name); }
        RaiseTransmitSpaceAvailable();
    }

    /// <summary>Lets the transport record the failure where the peer can see it (status byte).</summary>
    protected virtual void OnFailed(Exception reason) { }

    /// <summary>Lets the transport tell the peer the device stopped cleanly.</summary>
    protected virtual void OnStopped() { }

    /// <summary>Stops the device: the same teardown as a failure, without <see cref="DeviceFailed"/>.</summary>
    public virtual void Dispose()
    {
        Shutdown(new ObjectDisposedException(Name, $"{Name} was stopped"), ShutdownKind.Stopped);
        NotificationLoop? loop = Volatile.Read(ref _loop);
        if (loop is not null)
        {
            loop.DoorbellFailed -= OnDoorbellFailed;
            // Once this returns the transport may take the rings away (a vhost-user front end stopping them): no pass of the loop may still be in them.
            if (_handler is not null) loop.RemoveAndWait(_handler);
        }
        Volatile.Write(ref _loop, null);
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

    /// <summary>True when a transmit buffer is free or returned by the peer (under <see cref="TxLock"/>; reads the ring).</summary>
    protected abstract bool HasFreeTxLocked();
}

/// <summary>The peer left (it closed its doorbell); not a protocol violation.</summary>
public sealed class RpmsgPeerLeftException(string message, Exception inner) : Exception(message, inner);

using AmpCan.SharedMem.Diagnostics;
using AmpCan.VirtioCan.Bus;
using AmpCan.VirtioCan.Validation;
using AmpCan.VirtioCan.Wire;
using AmpCan.Vring;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AmpCan.VirtioCan;

/// <summary>
/// The virtio-can driver (the role of Linux's <c>virtio_can</c>) over any transport, and, once probed, a CAN port
/// like any other: <see cref="Send"/> is a transmit request on queue 0 (zero allocations, from any thread), frames
/// the device delivers on queue 1 wait in a bounded queue, <see cref="StartAsync"/> and <see cref="StopAsync"/> are
/// the control queue's START and STOP. A bus-off the device reports arrives as SocketCAN's error frame
/// (<see cref="CanErrorFrame.BusOff"/>) and leaves the controller stopped until the next START.
/// </summary>
/// <remarks>
/// The queues belong to the transport's loop; a probe after a device reset starts a new session on the new queues
/// (the controller stopped again, as the device is). Frames the driver is asked to send are checked against the
/// negotiated features first (<see cref="CanCarry"/>): virtio-can has no error frames, and FD, RTR or classic frames
/// go only where negotiated.
/// </remarks>
public sealed class VirtioCanDriver : IVirtioDriver, ICanPort
{
    private readonly VirtioCanDriverOptions _options;
    private readonly ILogger _logger;
    private readonly RateLimitedLog _callbackLog = new();
    private VirtioCanDriverSession? _session;
    private int _disposed;

    /// <summary>A driver named <paramref name="name"/> (for logs); nothing runs until a transport probes it.</summary>
    /// <exception cref="ArgumentException">An option out of range.</exception>
    public VirtioCanDriver(string name, VirtioCanDriverOptions? options = null, ILogger? logger = null)
    {
        _options = options ?? new VirtioCanDriverOptions();
        _options.Validate();
        _logger = logger ?? NullLogger.Instance;
        Name = name;
        // Beyond the frames kept for the consumer: one echo per transmit slot, and the bus-off error frame.
        Received = new CanFrameQueue(_options.ReceiveCapacity, errorRoom: 1, echoRoom: _options.MaxTransmitBuffers);
    }

    /// <summary>
    /// Bytes of buffer memory a driver with <paramref name="options"/> needs for a device whose three queues have
    /// <paramref name="queueSize"/> entries (with indirect tables, the most it may use).
    /// </summary>
    public static ulong BufferMemorySize(int queueSize, VirtioCanDriverOptions? options = null)
    {
        options ??= new VirtioCanDriverOptions();
        return VirtioCanDriverBuffers.Size(Math.Min(options.MaxTransmitBuffers, queueSize), Math.Min(options.MaxReceiveBuffers, queueSize), queueSize, queueSize, indirect: true);
    }

    /// <inheritdoc/>
    public uint DeviceId => VirtioCanIds.DeviceId;

    /// <inheritdoc/>
    public ulong SupportedFeatures => _options.SupportedFeatures;

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    /// <remarks>Called on the driver's loop thread after it queued frames (once per pass, not per frame).</remarks>
    public Action? FrameArrived { get; set; }

    /// <inheritdoc/>
    /// <remarks>
    /// The echo follows the device's OK answer. With LATE_TX_ACK negotiated (<see cref="LateTxAck"/>) that answer
    /// means the bus carried the frame; without it, only that the device took it, which is then the best confirmation
    /// there is (an echo that never came would leave whoever waits for it waiting).
    /// </remarks>
    public bool ConfirmsTransmits { get; set; }

    /// <inheritdoc/>
    public int MaxUnconfirmed => _options.MaxTransmitBuffers;

    /// <summary>Frames from the device (and echoes, and error frames) waiting to be taken.</summary>
    internal CanFrameQueue Received { get; }

    /// <summary>What the driver counted (answers, malformed receive buffers, bus-off).</summary>
    public VirtioCanDriverCounters Counters { get; } = new();

    /// <inheritdoc/>
    public int Pending => Received.Count;

    /// <inheritdoc/>
    public long Dropped => Received.Dropped;

    /// <summary>True once probed, until disposed or failed.</summary>
    public bool IsProbed => Volatile.Read(ref _session) is { Fault: null };

    /// <summary>True while the controller is started as far as the driver knows (START answered OK, no STOP or bus-off since).</summary>
    public bool IsStarted => Volatile.Read(ref _session)?.IsStarted ?? false;

    /// <summary>Features negotiated at the last probe (0 before).</summary>
    public ulong NegotiatedFeatures => Volatile.Read(ref _session)?.Features ?? 0;

    /// <summary>True when LATE_TX_ACK was negotiated: an OK answer means the bus carried the frame.</summary>
    public bool LateTxAck => VirtioCanFeatures.Has(NegotiatedFeatures, VirtioCanFeatures.LateTxAck);

    /// <summary>Transmit requests that may be on the ring at once (0 before a probe).</summary>
    public int TransmitSlots => Volatile.Read(ref _session)?.TransmitSlots ?? 0;

    /// <summary>Why the last session failed (the device broke a ring), or null.</summary>
    public Exception? Fault => Volatile.Read(ref _session)?.Fault;

    /// <inheritdoc/>
    /// <exception cref="VirtioException">Fewer than three queues, or no or too little buffer memory.</exception>
    public void Probe(VirtioDriverContext context)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var session = new VirtioCanDriverSession(this, context, _options, _logger);
        // A new probe means the device was reset: the old queues are gone with it.
        Interlocked.Exchange(ref _session, null)?.End();
        session.Start();
        Volatile.Write(ref _session, session);
    }

    /// <summary>
    /// Sends START on the control queue; completes true when the device answered OK (from then on frames flow both
    /// ways), false when it answered NOT_OK or went away first. Cancelling stops the wait, not the request.
    /// </summary>
    /// <exception cref="InvalidOperationException">The driver has not been probed.</exception>
    public Task<bool> StartAsync(CancellationToken cancellation = default) => ControlAsync(VirtioCanMessageType.Start, cancellation);

    /// <summary>
    /// Sends STOP on the control queue; sends answer Down from the moment it is called. Completes true when the device
    /// answered OK (transmits still pending were answered NOT_OK by then). Cancelling stops the wait, not the request.
    /// </summary>
    /// <exception cref="InvalidOperationException">The driver has not been probed.</exception>
    public Task<bool> StopAsync(CancellationToken cancellation = default) => ControlAsync(VirtioCanMessageType.Stop, cancellation);

    private Task<bool> ControlAsync(VirtioCanMessageType request, CancellationToken cancellation)
    {
        VirtioCanDriverSession session = Volatile.Read(ref _session)
            ?? throw new InvalidOperationException($"{Name}: no device yet (the driver has not been probed)");
        return session.Control(request).WaitAsync(cancellation);
    }

    /// <summary>
    /// The device's config space changed: what a transport with a config-change interrupt calls (any thread); the
    /// loop reads the status. Where there is none (a resource-table vdev) the loop reads it whenever the rings are idle.
    /// </summary>
    public void ConfigChanged() => Volatile.Read(ref _session)?.ConfigChanged();

    /// <summary>Whether this port can carry <paramref name="frame"/> with the negotiated features (<see cref="Send"/> throws for one it cannot).</summary>
    public bool CanCarry(in CanFrame frame) => Check(frame, NegotiatedFeatures) == VirtioCanRejection.None;

    private static VirtioCanRejection Check(in CanFrame frame, ulong features) =>
        frame.IsError ? VirtioCanRejection.UndefinedFlags
        : VirtioCanFrameRules.Check(VirtioCanFrameKinds.ToFlags(frame.Kind), frame.Id, frame.Length, features);

    /// <inheritdoc/>
    /// <remarks>
    /// Sent: a transmit request is on its way (its answer is counted; with <see cref="ConfirmsTransmits"/> an OK brings
    /// the echo). Busy: every transmit slot awaits its answer. Down: not probed, the controller not started (or
    /// stopped, or bus-off), or the device failed. BRS and ESI are not carried (virtio-can has no such flags).
    /// </remarks>
    /// <exception cref="ArgumentException">A frame virtio-can cannot carry with the negotiated features (an error frame, FD or RTR not negotiated, an identifier or length out of range).</exception>
    public CanSendResult Send(in CanFrame frame)
    {
        VirtioCanDriverSession? session = Volatile.Read(ref _session);
        if (session is null) return CanSendResult.Down;
        VirtioCanRejection why = Check(frame, session.Features);
        if (why != VirtioCanRejection.None)
            throw new ArgumentException(frame.IsError
                ? $"{Name}: virtio-can carries no error frames (id 0x{frame.Id:x})"
                : $"{Name}: cannot send id 0x{frame.Id:x} ({frame.Kind}, {frame.Length} bytes) with features 0x{session.Features:x}: {why}", nameof(frame));
        return session.Send(frame);
    }

    /// <inheritdoc/>
    public bool TryReceive(out CanFrame frame) => Received.TryTake(out frame);

    /// <inheritdoc/>
    public bool TryPeek(out CanFrame frame) => Received.TryPeek(out frame);

    internal void RaiseFrameArrived()
    {
        try
        {
            FrameArrived?.Invoke();
        }
        catch (Exception e)
        {
            // The callback is the taker's; its failure must not cost the driver's loop.
            if (_callbackLog.ShouldLog(out long suppressed))
                _logger.LogError(e, "{Device}: the frame-arrived callback failed{Note}", Name, RateLimitedLog.Note(suppressed));
        }
    }

    /// <summary>Stops serving the device and resets it (status 0), as Linux does when its driver is removed.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        VirtioCanDriverSession? session = Interlocked.Exchange(ref _session, null);
        if (session is null) return;
        session.End();
        try { session.ResetDevice(); }
        catch (Exception e) { _logger.LogError(e, "{Device}: could not reset the device status", Name); }
    }
}

using AmpCan.SharedMem.Diagnostics;
using AmpCan.SharedMem.Doorbells;
using AmpCan.VirtioCan.Bus;
using AmpCan.VirtioCan.Validation;
using AmpCan.VirtioCan.Wire;
using AmpCan.Vring;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AmpCan.VirtioCan;

/// <summary>
/// The virtio-can device (virtio 1.4, id 36; AmpCan serves, the remote's or a guest's driver uses it) on a CAN bus
/// port, over any transport: queue 0 transmits (each message validated, answered NOT_OK without sending when it
/// fails or the controller is stopped, OK once handed to the bus), queue 1 receives (frames from the other members
/// into the buffers the driver posted; the port's bounded queue holds them meanwhile), queue 2 carries START and STOP.
/// </summary>
/// <remarks>
/// With LATE_TX_ACK negotiated a transmit is answered only when the bus confirms it: the port echoes our own frames
/// once carried (SocketCAN's CAN_RAW_RECV_OWN_MSGS), matched against the pending transmits in order
/// (<see cref="VirtioCanPendingTransmits"/>); at most the port's <see cref="ICanPort.MaxUnconfirmed"/> wait at once, the
/// rest stay in the driver's ring. STOP and bus-off answer every pending one NOT_OK.
/// </remarks>
public sealed class VirtioCanDevice : IVirtioDevice
{
    /// <summary>What the device offers: classic, FD and RTR frames, late transmit acknowledgement, EVENT_IDX and indirect descriptors.</summary>
    public static readonly ulong DefaultFeatures = VirtioCanFeatures.Mask(VirtioCanFeatures.CanClassic) | VirtioCanFeatures.Mask(VirtioCanFeatures.CanFd)
        | VirtioCanFeatures.Mask(VirtioCanFeatures.RtrFrames) | VirtioCanFeatures.Mask(VirtioCanFeatures.LateTxAck)
        | VirtioRingFeatures.Bit(VirtioRingFeatures.EventIndex) | VirtioRingFeatures.Bit(VirtioRingFeatures.IndirectDescriptors);

    private readonly string _name;
    private readonly ICanPort _port;
    private readonly ILogger _logger;
    private readonly VirtioCanControllerState _state;
    private VirtioDeviceContext? _context;
    private Handler? _handler;
    private readonly RateLimitedLog _stateLog = new();
    private long _rejected, _dropped, _strayEchoes;
    private int _busOffRequested;
    private int _errorState = (int)CanErrorState.Active;

    /// <summary>A device named <paramref name="name"/> on <paramref name="port"/>; nothing runs until a transport activates it.</summary>
    public VirtioCanDevice(string name, ICanPort port, ILogger? logger = null)
    {
        _name = name;
        _port = port;
        _logger = logger ?? NullLogger.Instance;
        // Only late-acknowledged transmits are ever pending; the state calls back on the loop, where _handler is current.
        _state = new VirtioCanControllerState(() => _handler?.CancelPending(), () => _context?.SignalConfigChanged());
    }

    /// <inheritdoc/>
    public uint DeviceId => VirtioCanIds.DeviceId;

    /// <inheritdoc/>
    public ulong DeviceFeatures { get; init; } = DefaultFeatures;

    /// <inheritdoc/>
    public int QueueCount => VirtioCanIds.QueueCount;

    /// <inheritdoc/>
    public int MaxQueueSize => VringLayout.MaxQueueSize;

    /// <inheritdoc/>
    public int ConfigLength => VirtioCanConfig.Size;

    /// <summary>The features the driver accepted at the latest activation (kept after a reset, for diagnostics; 0 before the first).</summary>
    public ulong NegotiatedFeatures { get; private set; }

    /// <summary>True while the driver has the controller started.</summary>
    public bool IsStarted => _state.IsStarted;

    /// <summary>Transmits answered NOT_OK (invalid, or the controller stopped).</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>Echoes of our own frames that no transmit waited for (cancelled by STOP or bus-off before the bus confirmed them).</summary>
    public long StrayEchoes => Interlocked.Read(ref _strayEchoes);

    /// <summary>Transmits waiting for the bus to confirm them (LATE_TX_ACK).</summary>
    public int Unconfirmed => _handler?.Unconfirmed ?? 0;

    /// <summary>
    /// The controller's error state as the back end's error frames last reported it (warning and passive have no
    /// place in virtio-can's config space, which carries bus-off only: they are logged and kept here for diagnostics).
    /// </summary>
    public CanErrorState ErrorState => (CanErrorState)Volatile.Read(ref _errorState);

    /// <summary>Frames from the bus not delivered: the controller was stopped, the frame is not one the driver negotiated, or its buffer was too small.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>
    /// The bus went bus-off (a back end saw it; from any thread): on the device's loop the controller stops, the status
    /// bit is set and the driver is told through a configuration change; the driver's next START recovers.
    /// </summary>
    public void ReportBusOff()
    {
        Volatile.Write(ref _busOffRequested, 1);
        _context?.Loop.Wake();
    }

    /// <inheritdoc/>
    public void ReadConfig(int offset, Span<byte> destination)
    {
        Span<byte> config = stackalloc byte[VirtioCanConfig.Size];
        _state.Config.Write(config);
        config.Slice(offset, destination.Length).CopyTo(destination);
    }

    /// <inheritdoc/>
    /// <remarks>The config space is read-only for the driver (virtio 1.4 §5.22.4): writes are ignored.</remarks>
    public void WriteConfig(int offset, ReadOnlySpan<byte> source) { }

    /// <summary>
    /// Set before a take-over's activation: the driver before us had started the controller and will not send START
    /// again, so it is started as activated (the device state that lives outside the rings).
    /// </summary>
    public bool ResumeStarted { get; set; }

    /// <inheritdoc/>
    public void Activate(VirtioDeviceContext context)
    {
        if (_handler is not null) throw new InvalidOperationException($"{_name} is already active; reset it first");
        _state.Reset();
        if (ResumeStarted) _state.Control(VirtioCanMessageType.Start);
        _context = context;
        NegotiatedFeatures = context.Features;
        var h = new Handler(this, context, context.CreateQueue(VirtioCanIds.TxQueue), context.CreateQueue(VirtioCanIds.RxQueue), context.CreateQueue(VirtioCanIds.ControlQueue));
        _handler = h;
        NotificationLoop loop = context.Loop;
        _port.ConfirmsTransmits = (context.Features & VirtioCanFeatures.Mask(VirtioCanFeatures.LateTxAck)) != 0;
        _port.FrameArrived = loop.WakeIfParking; // a frame queued while the loop runs is found by its next pass
        loop.Add(h, context.Incoming);
        _logger.LogInformation("{Device}: driver ready, features 0x{Features:x}", _name, context.Features);
    }

    /// <inheritdoc/>
    public void Reset()
    {
        Handler? h = Interlocked.Exchange(ref _handler, null);
        if (h is null) return;
        _port.FrameArrived = null;
        _context!.Loop.RemoveAndWait(h);
        _state.Reset();
        _context = null;
    }

    /// <summary>The device's work on its loop: control first (it decides what the others may do), then transmit, then receive.</summary>
    private sealed class Handler : INotificationHandler
    {
        private const int MaxMessage = VirtioCanFrameHeader.Size + VirtioCanFrameHeader.MaxDataLength;

        // Static, so that answering a pending transmit allocates nothing.
        private static readonly Action<Handler, VirtioCanPendingTransmit> AnswerOk = (h, p) => h.AnswerPending(p, VirtioCanResult.Ok);
        private static readonly Action<Handler, VirtioCanPendingTransmit> AnswerNotOk = (h, p) => h.AnswerPending(p, VirtioCanResult.NotOk);

        private readonly VirtioCanDevice device;
        private readonly VirtioDeviceContext context;
        private readonly SplitVirtqueueDevice tx, rx, control;
        private readonly VirtioCanPendingTransmits? _pending; // LATE_TX_ACK negotiated
        private bool _txAnswered; // used entries added to the transmit queue and not yet published

        public Handler(VirtioCanDevice device, VirtioDeviceContext context, SplitVirtqueueDevice tx, SplitVirtqueueDevice rx, SplitVirtqueueDevice control)
        {
            this.device = device;
            this.context = context;
            this.tx = tx;
            this.rx = rx;
            this.control = control;
            if ((context.Features & VirtioCanFeatures.Mask(VirtioCanFeatures.LateTxAck)) != 0)
                _pending = new VirtioCanPendingTransmits(Math.Min(device._port.MaxUnconfirmed, context.Queues[VirtioCanIds.TxQueue].Ring.QueueSize));
        }

        public int Unconfirmed => _pending?.Count ?? 0;

        public bool Process()
        {
            bool did = false;
            // Bus-off is the controller's state, which only this loop changes: a back end's report is taken here.
            if (Volatile.Read(ref device._busOffRequested) != 0 && Interlocked.Exchange(ref device._busOffRequested, 0) != 0)
            {
                EnterBusOff();
                did = true;
            }
            did |= ProcessControl() | ProcessTransmits() | ProcessReceives();
            if (_txAnswered)
            {
                _txAnswered = false;
                if (tx.PublishUsed()) context.Queues[VirtioCanIds.TxQueue].Notifier.Notify();
            }
            return did;
        }

        /// <summary>STOP or bus-off: every transmit still waiting for the bus is answered NOT_OK (published at the end of the pass).</summary>
        public void CancelPending() => _pending?.Drain(this, AnswerNotOk);

        private void EnterBusOff()
        {
            bool entered = device._state.EnterBusOff();
            // After the status: whoever sees ErrorState say bus-off finds the controller stopped and the bit set.
            Volatile.Write(ref device._errorState, (int)CanErrorState.BusOff);
            if (entered) device._logger.LogWarning("{Device}: bus-off; the driver must restart the controller", device._name);
        }

        // Warning and passive are only logged: the spec's status has no bit for them. One line per change, rate-limited,
        // because a controller on a noisy bus can flap between states as fast as frames arrive.
        private void NoteErrorState(CanErrorState state)
        {
            if (state == CanErrorState.BusOff)
            {
                EnterBusOff();
                return;
            }
            // A controller in bus-off leaves it only through START (virtio 1.4 §5.22.6.2): a back end's restart report
            // before that changes nothing the driver sees.
            if (state == CanErrorState.Unknown || device.ErrorState == CanErrorState.BusOff) return;
            if (Interlocked.Exchange(ref device._errorState, (int)state) == (int)state) return;
            if (device._stateLog.ShouldLog(out long suppressed))
                device._logger.LogInformation("{Device}: the controller is error {State}{Note}", device._name, state.ToString().ToLowerInvariant(), RateLimitedLog.Note(suppressed));
        }

        private bool ProcessControl()
        {
            bool did = false;
            Span<byte> request = stackalloc byte[VirtioCanControlRequest.Size];
            while (control.TryPop(out DescriptorChain chain))
            {
                int n = Gather(chain, request);
                ushort before = device._state.Status;
                VirtioCanResult result = device._state.Control(request[..n]);
                // START after bus-off: the controller takes part in the bus again until the back end says otherwise.
                if (device._state.IsStarted && device.ErrorState == CanErrorState.BusOff) Volatile.Write(ref device._errorState, (int)CanErrorState.Active);
                // START clears BUSOFF without a notification: a copy of the config the driver reads changes before the answer.
                if (device._state.Status != before) context.ConfigUpdated();
                Answer(control, chain, result);
                did = true;
            }
            if (did && control.PublishUsed()) context.Queues[VirtioCanIds.ControlQueue].Notifier.Notify();
            return did;
        }

        private bool ProcessTransmits()
        {
            bool did = false;
            Span<byte> message = stackalloc byte[MaxMessage];
            // With late acknowledgement, a full set of unconfirmed transmits leaves the rest in the driver's ring.
            while ((_pending is null || !_pending.IsFull) && tx.TryPop(out DescriptorChain chain))
            {
                did = true;
                int n = Gather(chain, message);
                VirtioCanRejection why = VirtioCanTransmitValidation.Validate(message[..n], context.Features, out VirtioCanFrameHeader header);
                if (why == VirtioCanRejection.None) why = device._state.AdmitTransmit();
                if (why == VirtioCanRejection.None)
                {
                    var frame = new CanFrame { Id = header.CanId, Length = (byte)header.Length, Kind = VirtioCanFrameKinds.FromFlags(header.Flags) };
                    if (!frame.IsRemote) message.Slice(VirtioCanFrameHeader.Size, header.Length).CopyTo(frame.Payload);
                    why = device._port.Send(frame) switch
                    {
                        CanSendResult.Sent => VirtioCanRejection.None,
                        CanSendResult.Busy => VirtioCanRejection.BusBusy,
                        _ => VirtioCanRejection.BusDown,
                    };
                    if (why == VirtioCanRejection.None && _pending is not null)
                    {
                        _pending.Add(new VirtioCanPendingTransmit(chain.Head, AnswerSegment(chain)), frame);
                        continue; // answered when its echo comes back
                    }
                }
                if (why != VirtioCanRejection.None) Interlocked.Increment(ref device._rejected);
                Answer(tx, chain, why == VirtioCanRejection.None ? VirtioCanResult.Ok : VirtioCanResult.NotOk);
                _txAnswered = true;
            }
            return did;
        }

        private bool ProcessReceives()
        {
            bool did = false;
            Span<byte> staged = stackalloc byte[VirtioCanFrameHeader.Size + VirtioCanFrameHeader.MaxDataLength];
            while (device._port.TryPeek(out CanFrame frame))
            {
                if (frame.IsEcho || frame.IsError)
                {
                    device._port.TryReceive(out _);
                    did = true;
                    if (frame.IsEcho)
                    {
                        // An echo nothing waits for: its transmit was cancelled, or acknowledgement is not late.
                        // A lost echo (the bus gave up on the frame) fails its transmit instead of confirming it.
                        if (_pending is null || !_pending.Confirm(frame, this, frame.IsLostEcho ? AnswerNotOk : AnswerOk, AnswerNotOk))
                            Interlocked.Increment(ref device._strayEchoes);
                    }
                    else if (CanErrorFrame.TryRead(frame, out CanErrorFrame error)) NoteErrorState(error.State);
                    continue;
                }
                VirtioCanFlags flags = VirtioCanFrameKinds.ToFlags(frame.Kind);
                // A stopped controller takes no part in the bus; a frame the driver did not negotiate is not one it can take.
                if (!device._state.IsStarted || VirtioCanFrameRules.Check(flags, frame.Id, frame.Length, context.Features) != VirtioCanRejection.None)
                {
                    device._port.TryReceive(out _);
                    Interlocked.Increment(ref device._dropped);
                    did = true;
                    continue;
                }
                if (!rx.TryPop(out DescriptorChain chain)) break; // the port holds it until the driver posts a buffer
                device._port.TryReceive(out _);
                uint used = 0;
                if (chain.Writable.Length > 0)
                {
                    // Device memory has no span: the message is formatted here and copied in word by word, aligned.
                    BufferSegment into = chain.Writable[0];
                    Span<byte> buffer = into.IsDeviceMemory ? staged[..(int)Math.Min(into.Length, (uint)staged.Length)] : into.Span;
                    bool written = frame.IsRemote
                        ? VirtioCanReceiveFormat.TryWriteRemoteRequest(buffer, frame.IsExtended, frame.Id, frame.Length, out int length)
                        : VirtioCanReceiveFormat.TryWriteData(buffer, flags, frame.Id, frame.Payload, out length);
                    if (written)
                    {
                        if (into.IsDeviceMemory) into.Write(0, buffer[..length]);
                        used = (uint)length;
                    }
                }
                if (used == 0) Interlocked.Increment(ref device._dropped); // too small: the buffer goes back empty
                rx.AddUsed(chain.Head, used);
                did = true;
            }
            if (did && rx.PublishUsed()) context.Queues[VirtioCanIds.RxQueue].Notifier.Notify();
            return did;
        }

        private void AnswerPending(VirtioCanPendingTransmit p, VirtioCanResult result)
        {
            if (p.Answer.Length == 0) tx.AddUsed(p.Head, 0);
            else
            {
                p.Answer.Region.WriteU8(p.Answer.Offset, (byte)result);
                tx.AddUsed(p.Head, 1);
            }
            if (result != VirtioCanResult.Ok) Interlocked.Increment(ref device._rejected);
            _txAnswered = true;
        }

        // The chain's device-readable bytes, as far as they fit.
        private static int Gather(in DescriptorChain chain, Span<byte> into)
        {
            int n = 0;
            foreach (BufferSegment s in chain.Readable)
            {
                if (n == into.Length) break;
                int take = (int)Math.Min(s.Length, (uint)(into.Length - n));
                s.Region.Read(s.Offset, into.Slice(n, take));
                n += take;
            }
            return n;
        }

        // Where the one-byte answer goes: the first device-writable byte, if the chain has one.
        private static BufferSegment AnswerSegment(in DescriptorChain chain) =>
            chain.Writable.Length == 0 || chain.Writable[0].Length == 0 ? default : chain.Writable[0];

        private static void Answer(SplitVirtqueueDevice queue, in DescriptorChain chain, VirtioCanResult result)
        {
            BufferSegment s = AnswerSegment(chain);
            if (s.Length == 0)
            {
                queue.AddUsed(chain.Head, 0);
                return;
            }
            s.Region.WriteU8(s.Offset, (byte)result);
            queue.AddUsed(chain.Head, 1);
        }

        public bool ArmNotifications()
        {
            // Transmits waiting while every unconfirmed slot is taken are not work until an echo frees one (no spinning).
            bool transmits = tx.EnableNotifications() && (_pending is null || !_pending.IsFull);
            bool pending = transmits | control.EnableNotifications() | Volatile.Read(ref device._busOffRequested) != 0;
            // A frame waiting is work now if it is an echo or an error, or if stopped (to be dropped); a data frame when
            // the driver has a buffer for it. Only then is a posted buffer news: otherwise rx kicks stay off, or the
            // loop would never park while the driver keeps buffers posted (it always does).
            if (!device._port.TryPeek(out CanFrame next))
            {
                rx.DisableNotifications();
                return pending;
            }
            if (next.IsEcho || next.IsError || !device._state.IsStarted) return true;
            return rx.EnableNotifications() | pending; // true: a buffer is there (or arrived while arming)
        }

        public void DisarmNotifications()
        {
            tx.DisableNotifications();
            rx.DisableNotifications();
            control.DisableNotifications();
        }

        public override string ToString() => device._name;
    }
}

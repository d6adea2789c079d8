using System.Collections.Concurrent;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Diagnostics;
using AmpCan.SharedMem.Doorbells;
using AmpCan.VirtioCan.Bus;
using AmpCan.VirtioCan.Validation;
using AmpCan.VirtioCan.Wire;
using AmpCan.Vring;
using Microsoft.Extensions.Logging;

namespace AmpCan.VirtioCan;

/// <summary>
/// One probe of a <see cref="VirtioCanDriver"/>: the device's three queues and the driver's buffers, served on the
/// context's loop, the only thread that touches a queue. Senders on other threads hand filled transmit slots over
/// (<see cref="VirtioCanTransmitSlots"/>) and control calls through a queue; the loop puts them on the rings, takes
/// the answers, keeps the receive queue full and reads the controller's status.
/// </summary>
/// <remarks>
/// Everything the device writes is checked before use: answers are OK only when the answer byte says so, a receive
/// buffer is validated before a frame is made of it (<see cref="VirtioCanReceiveValidation"/>), and a device that
/// breaks a ring (a used id nobody gave it) fails this session: FAILED is set, sends answer Down, nothing throws.
/// </remarks>
internal sealed class VirtioCanDriverSession : INotificationHandler
{
    private const int ChainEntries = 2;

    private readonly VirtioCanDriver _port;
    private readonly VirtioDriverContext _context;
    private readonly ILogger _logger;
    private readonly RateLimitedLog _malformedLog = new();
    private readonly VirtioCanDriverBuffers _buffers;
    private readonly IoRegion _memory;
    private readonly VirtioCanTransmitSlots _slots;
    private readonly int[] _batch;           // loop-owned scratch: slot numbers taken or answered in one pass
    private readonly int _receiveBatch;
    private readonly bool _indirect;
    private readonly ConcurrentQueue<VirtioCanControlCall> _calls = new();
    private SplitVirtqueueDriver? _tx, _rx, _control;
    private VirtioCanControlCall? _onRing;   // the control request the device holds (one at a time, as Linux)
    private volatile bool _started;
    private volatile bool _ended;
    private volatile Exception? _fault;
    private int _stops;
    private int _parking;                    // 1 between the loop's last look before parking and its next pass
    private int _configChanged;
    private bool _statusReadable;
    private bool _busOffArmed;               // the status bit was last read clear: the next set bit is a new bus-off

    /// <summary>Lays the driver's buffers out for the device's queues; nothing touches a ring until <see cref="Start"/>.</summary>
    /// <exception cref="VirtioException">Fewer than three queues, no buffer memory, or too little of it.</exception>
    public VirtioCanDriverSession(VirtioCanDriver port, VirtioDriverContext context, VirtioCanDriverOptions options, ILogger logger)
    {
        _port = port;
        _context = context;
        _logger = logger;
        if (context.Queues.Count < VirtioCanIds.QueueCount)
            throw new VirtioException($"{port.Name}: a virtio-can device has {VirtioCanIds.QueueCount} queues (tx, rx, control); this one has {context.Queues.Count}");
        _memory = context.BufferMemory
            ?? throw new VirtioException($"{port.Name}: the transport gives no memory the device can address for the driver's buffers");
        _indirect = context.Has(VirtioRingFeatures.IndirectDescriptors);
        int txQueue = context.Queues[VirtioCanIds.TxQueue].Ring.QueueSize;
        int rxQueue = context.Queues[VirtioCanIds.RxQueue].Ring.QueueSize;
        int controlQueue = context.Queues[VirtioCanIds.ControlQueue].Ring.QueueSize;
        // Without indirect descriptors a request takes two descriptors: what the device reads, the byte it answers in.
        int txSlots = Math.Min(options.MaxTransmitBuffers, _indirect ? txQueue : txQueue / ChainEntries);
        if (txSlots < 1 || (!_indirect && controlQueue < ChainEntries))
            throw new VirtioException($"{port.Name}: transmit queue of {txQueue} and control queue of {controlQueue} entries cannot hold a request of {ChainEntries} descriptors");
        int rxBuffers = Math.Min(options.MaxReceiveBuffers, rxQueue);
        try
        {
            _buffers = new VirtioCanDriverBuffers(_memory, txSlots, rxBuffers, txQueue, controlQueue, _indirect);
        }
        catch (ArgumentException e)
        {
            throw new VirtioException($"{port.Name}: {e.Message}", e);
        }
        _slots = new VirtioCanTransmitSlots(txSlots);
        _batch = new int[txSlots];
        _receiveBatch = options.ReceiveBatch;
        Features = context.Features;
    }

    /// <summary>Features both sides agreed on.</summary>
    public ulong Features { get; }

    /// <summary>Transmit slots (requests that may be on the ring at once).</summary>
    public int TransmitSlots => _slots.Count;

    /// <summary>Receive buffers kept posted.</summary>
    public int ReceiveBuffers => _buffers.RxBuffers;

    /// <summary>True while the controller is started as far as the driver knows (START answered OK, no STOP or bus-off since).</summary>
    public bool IsStarted => _started;

    /// <summary>Why the session failed (the device broke a ring), or null.</summary>
    public Exception? Fault => _fault;

    /// <summary>
    /// Creates the queues, posts every receive buffer, sets DRIVER_OK and kicks, on the calling thread, and only then
    /// hands the queues to the loop (no moment where two threads use one).
    /// </summary>
    public void Start()
    {
        _tx = _context.CreateQueue(VirtioCanIds.TxQueue);
        _rx = _context.CreateQueue(VirtioCanIds.RxQueue);
        _control = _context.CreateQueue(VirtioCanIds.ControlQueue);
        if (_indirect)
        {
            _tx.UseIndirectTables(_buffers.TxIndirectTables!, ChainEntries);
            _control.UseIndirectTables(_buffers.ControlIndirectTables!, ChainEntries);
        }
        for (int i = 0; i < _buffers.RxBuffers; i++) PostReceive(i);
        _statusReadable = TryReadStatus(out ushort status);
        if (!_statusReadable) _logger.LogWarning("{Device}: the config space has no status field; bus-off will not be seen", _port.Name);
        _busOffArmed = (status & VirtioCanConfig.StatusBusOff) == 0;
        _context.SetDriverOk();
        if (_rx.KickPrepare()) Notify(VirtioCanIds.RxQueue);
        _logger.LogInformation("{Device}: DRIVER_OK, features 0x{Features:x}, {Tx} transmit slots, {Rx} receive buffers", _port.Name, Features, _slots.Count, _buffers.RxBuffers);
        _context.Loop.Add(this, _context.Incoming);
    }

    private void PostReceive(int index) =>
        _rx!.TryAdd(new VirtqBuffer(_buffers.DeviceAddress(_buffers.RxOffset(index)), VirtioCanDriverBuffers.MessageSize), deviceWritable: true, index);

    private void Notify(int queue) => _context.Queues[queue].Notifier.Notify();

    /// <summary>
    /// Any thread: writes <paramref name="frame"/> (checked by the caller against <see cref="Features"/>) into a free
    /// transmit slot and hands it to the loop. Down while stopped or failed, Busy when every slot is in use.
    /// </summary>
    public CanSendResult Send(in CanFrame frame)
    {
        if (!_started || _ended) return CanSendResult.Down;
        if (!_slots.TryTake(out int slot)) return CanSendResult.Busy;
        Span<byte> message = stackalloc byte[VirtioCanDriverBuffers.MessageSize];
        int length = frame.Length;
        new VirtioCanFrameHeader(VirtioCanMessageType.Tx, (ushort)length, VirtioCanFrameKinds.ToFlags(frame.Kind), frame.Id).Write(message);
        // A remote request carries its length as zero bytes: the device (and Linux's) expects 16 + length either way.
        if (frame.IsRemote) message.Slice(VirtioCanFrameHeader.Size, length).Clear();
        else ((ReadOnlySpan<byte>)frame.Data)[..length].CopyTo(message[VirtioCanFrameHeader.Size..]);
        ulong at = _buffers.TxOffset(slot);
        _memory.Write(at, message[..(VirtioCanFrameHeader.Size + length)]);
        // NOT_OK until the device writes otherwise: a device that marks the request used without answering has not said OK.
        _memory.WriteU8(at + VirtioCanDriverBuffers.TxAnswerAt, (byte)VirtioCanResult.NotOk);
        _slots.Submit(slot, frame);
        WakeIfParked();
        return CanSendResult.Sent;
    }

    // The loop sets _parking and then looks for submitted work once more before it parks; a sender submits and then
    // reads _parking. With a full fence on each side, one of them sees the other: no wake-up is lost, and while the
    // loop is busy or spinning no sender pays for a system call.
    private void WakeIfParked()
    {
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref _parking) != 0) _context.Loop.Wake();
    }

    /// <summary>Any thread: queues START or STOP behind any earlier one; the task completes with the device's answer (true: OK).</summary>
    public Task<bool> Control(VirtioCanMessageType request)
    {
        if (request == VirtioCanMessageType.Stop)
        {
            // Stopped from now on for senders: what is already on the ring the device answers NOT_OK once stopped.
            Interlocked.Increment(ref _stops);
            _started = false;
        }
        var call = new VirtioCanControlCall(request, Volatile.Read(ref _stops));
        if (_ended || _fault is not null) return Task.FromResult(false);
        _calls.Enqueue(call);
        if (_ended || _fault is not null) FailWaitingCalls(); // the session ended meanwhile: nobody would take it
        _context.Loop.Wake();
        return call.Answered.Task;
    }

    /// <summary>Any thread: the device's config changed (a transport's config-change interrupt): the loop reads the status.</summary>
    public void ConfigChanged()
    {
        Volatile.Write(ref _configChanged, 1);
        _context.Loop.Wake();
    }

    /// <inheritdoc/>
    public bool Process()
    {
        if (_fault is not null || _ended) return false;
        if (Volatile.Read(ref _parking) != 0) Volatile.Write(ref _parking, 0);
        bool did = false, arrived = false;
        try
        {
            did |= ProcessControl(ref arrived);
            did |= ProcessTransmitAnswers(ref arrived);
            did |= SubmitTransmits();
            did |= ProcessReceives(ref arrived);
            // A transport may have no config-change interrupt (a resource-table vdev has none): the status is read on
            // every pass that found the rings idle too, which the loop makes before it parks and after every wake-up.
            bool flagged = Volatile.Read(ref _configChanged) != 0 && Interlocked.Exchange(ref _configChanged, 0) != 0;
            if (flagged || !did) did |= CheckStatus(ref arrived);
        }
        catch (Exception e)
        {
            Fail(e);
        }
        if (arrived) _port.RaiseFrameArrived();
        return did;
    }

    private bool ProcessControl(ref bool arrived)
    {
        bool did = false;
        if (_onRing is VirtioCanControlCall call && _control!.TryGetUsed(out UsedBuffer used))
        {
            _onRing = null;
            bool ok = used.Length >= 1 && _memory.ReadU8(_buffers.ControlOffset + VirtioCanDriverBuffers.ControlAnswerAt) == (byte)VirtioCanResult.Ok;
            if (call.Request == VirtioCanMessageType.Start && ok)
            {
                if (Volatile.Read(ref _stops) == call.StopsBefore) _started = true;
                // The device cleared BUSOFF before answering START: a bit still set is not a new bus-off.
                _busOffArmed = false;
                CheckStatus(ref arrived);
            }
            if (!ok) _logger.LogWarning("{Device}: the device answered {Request} NOT_OK", _port.Name, call.Request);
            call.Answered.TrySetResult(ok);
            did = true;
        }
        if (_onRing is null && _calls.TryDequeue(out VirtioCanControlCall? next))
        {
            ulong at = _buffers.ControlOffset;
            _memory.WriteU16(at, (ushort)next.Request);
            _memory.WriteU8(at + VirtioCanDriverBuffers.ControlAnswerAt, (byte)VirtioCanResult.NotOk);
            var request = new VirtqBuffer(_buffers.DeviceAddress(at), VirtioCanControlRequest.Size);
            var answer = new VirtqBuffer(_buffers.DeviceAddress(at + VirtioCanDriverBuffers.ControlAnswerAt), 1);
            if (!_control!.TryAdd(new ReadOnlySpan<VirtqBuffer>(in request), new ReadOnlySpan<VirtqBuffer>(in answer), token: 0))
                throw new InvalidOperationException("the control queue has no room for its one request");
            _onRing = next;
            if (_control.KickPrepare()) Notify(VirtioCanIds.ControlQueue);
            did = true;
        }
        return did;
    }

    private bool ProcessTransmitAnswers(ref bool arrived)
    {
        int n = 0;
        bool echo = _port.ConfirmsTransmits;
        while (n < _batch.Length && _tx!.TryGetUsed(out UsedBuffer used))
        {
            int slot = used.Token;
            bool ok = used.Length >= 1 && _memory.ReadU8(_buffers.TxOffset(slot) + VirtioCanDriverBuffers.TxAnswerAt) == (byte)VirtioCanResult.Ok;
            if (ok)
            {
                _port.Counters.Confirmed();
                if (echo)
                {
                    CanFrame confirmed = _slots.Frame(slot);
                    confirmed.Kind |= CanFrameKind.Echo;
                    arrived |= _port.Received.TryAdd(confirmed);
                }
            }
            else
            {
                _port.Counters.Failed();
            }
            _batch[n++] = slot;
        }
        if (n > 0) _slots.Release(_batch.AsSpan(0, n));
        return n > 0;
    }

    private bool SubmitTransmits()
    {
        int n = _slots.TakeSubmitted(_batch);
        for (int i = 0; i < n; i++)
        {
            int slot = _batch[i];
            ulong at = _buffers.TxOffset(slot);
            var request = new VirtqBuffer(_buffers.DeviceAddress(at), (uint)(VirtioCanFrameHeader.Size + _slots.Frame(slot).Length));
            var answer = new VirtqBuffer(_buffers.DeviceAddress(at + VirtioCanDriverBuffers.TxAnswerAt), 1);
            // Cannot fail: there are no more slots than the ring holds requests, and a slot is on the ring at most once.
            if (!_tx!.TryAdd(new ReadOnlySpan<VirtqBuffer>(in request), new ReadOnlySpan<VirtqBuffer>(in answer), slot))
                throw new InvalidOperationException($"the transmit queue has no room for slot {slot}");
        }
        if (n > 0 && _tx!.KickPrepare()) Notify(VirtioCanIds.TxQueue);
        return n > 0;
    }

    private bool ProcessReceives(ref bool arrived)
    {
        int n = 0;
        Span<byte> written = stackalloc byte[VirtioCanDriverBuffers.MessageSize];
        ulong features = Features;
        while (n < _receiveBatch && _rx!.TryGetUsed(out UsedBuffer used))
        {
            int index = used.Token;
            // One copy out of shared memory, then every check on the copy: the device cannot change it under us.
            Span<byte> copy = written[..(int)Math.Min(used.Length, (uint)VirtioCanDriverBuffers.MessageSize)];
            _memory.Read(_buffers.RxOffset(index), copy);
            VirtioCanRejection why = VirtioCanReceiveValidation.Validate(copy, features, out CanFrame frame);
            if (why == VirtioCanRejection.None)
            {
                _port.Counters.ReceivedOne();
                arrived |= _port.Received.TryAdd(frame);
            }
            else
            {
                _port.Counters.Malformed();
                if (_malformedLog.ShouldLog(out long suppressed))
                    _logger.LogWarning("{Device}: dropped a receive buffer the device filled wrongly ({Reason}, used length {Length}){Note}",
                        _port.Name, why, used.Length, RateLimitedLog.Note(suppressed));
            }
            PostReceive(index);
            n++;
        }
        if (n > 0 && _rx!.KickPrepare()) Notify(VirtioCanIds.RxQueue);
        return n > 0;
    }

    private bool TryReadStatus(out ushort status)
    {
        Span<byte> config = stackalloc byte[VirtioCanConfig.Size];
        try
        {
            _context.ReadConfig(0, config);
        }
        catch (ArgumentOutOfRangeException)
        {
            status = 0;
            return false;
        }
        VirtioCanConfig.TryRead(config, out VirtioCanConfig parsed);
        status = parsed.Status;
        return true;
    }

    // Bus-off is the status bit going from clear to set, as this side reads it; a bit that stays set (a device that
    // never clears it) is one bus-off, not one per read.
    private bool CheckStatus(ref bool arrived)
    {
        if (!_statusReadable || !TryReadStatus(out ushort status)) return false;
        if ((status & VirtioCanConfig.StatusBusOff) == 0)
        {
            _busOffArmed = true;
            return false;
        }
        if (!_busOffArmed) return false;
        _busOffArmed = false;
        _started = false;
        _port.Counters.BusOff();
        _logger.LogWarning("{Device}: the controller went bus-off; start it again to recover", _port.Name);
        arrived |= _port.Received.TryAdd(CanErrorFrame.BusOff());
        return true;
    }

    /// <inheritdoc/>
    public bool ArmNotifications()
    {
        if (_fault is not null || _ended) return false;
        Volatile.Write(ref _parking, 1);
        Interlocked.MemoryBarrier();
        try
        {
            bool pending = _tx!.EnableCallbacks() | _rx!.EnableCallbacks() | _control!.EnableCallbacks();
            return pending || _slots.HasSubmitted || (_onRing is null && !_calls.IsEmpty) || Volatile.Read(ref _configChanged) != 0;
        }
        catch (Exception e)
        {
            Fail(e);
            return false;
        }
    }

    /// <inheritdoc/>
    public void DisarmNotifications()
    {
        if (_fault is not null || _ended) return;
        try
        {
            _tx!.DisableCallbacks();
            _rx!.DisableCallbacks();
            _control!.DisableCallbacks();
        }
        catch (Exception e)
        {
            Fail(e);
        }
    }

    // On the loop: the device broke a ring (or something else failed); the session is over, the process is not.
    private void Fail(Exception e)
    {
        if (_fault is not null) return;
        _started = false;
        _logger.LogError("{Device}: the device broke the protocol; the driver gives it up: {Reason}", _port.Name, e.Message);
        // FAILED is in the status before anyone can see the fault (whoever reads Fault then finds the device failed).
        try { _context.SetFailed(); }
        catch (Exception inner) { _logger.LogError(inner, "{Device}: could not set FAILED", _port.Name); }
        _fault = e;
        _onRing?.Answered.TrySetResult(false);
        _onRing = null;
        FailWaitingCalls();
        _context.Loop.Remove(this);
    }

    private void FailWaitingCalls()
    {
        while (_calls.TryDequeue(out VirtioCanControlCall? call)) call.Answered.TrySetResult(false);
    }

    /// <summary>
    /// Ends the session: the loop stops serving it (returns once it can no longer be running it), and every control
    /// call not answered completes false. The device's status is the caller's to reset.
    /// </summary>
    public void End()
    {
        _ended = true;
        _started = false;
        _context.Loop.RemoveAndWait(this);
        _onRing?.Answered.TrySetResult(false);
        _onRing = null;
        FailWaitingCalls();
    }

    /// <summary>Resets the device (status 0), as Linux does when the driver is removed.</summary>
    public void ResetDevice() => _context.Reset();

    /// <inheritdoc/>
    public override string ToString() => _port.Name;
}

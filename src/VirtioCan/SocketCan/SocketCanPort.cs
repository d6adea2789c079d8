using System.Diagnostics;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Diagnostics;
using AmpCan.VirtioCan.Bus;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using static Tmds.Linux.LibC;

namespace AmpCan.VirtioCan.SocketCan;

/// <summary>
/// A port on a SocketCAN interface (can0, vcan0) through one raw CAN socket: classic and FD frames, remote requests,
/// the error frames of the classes asked for, and (with <see cref="ConfirmsTransmits"/>) our own frames back once the
/// bus took them (CAN_RAW_RECV_OWN_MSGS, recognised by MSG_CONFIRM). One reader thread drains the socket into a
/// bounded queue; <see cref="Send"/> writes without blocking from any thread.
/// </summary>
/// <remarks>
/// The interface is the system's to create and bring up. While it is missing or down the port says so in the log and
/// <see cref="Send"/> answers <see cref="CanSendResult.Down"/>; it looks again every retry interval and serves as soon
/// as the interface is there and up (a deleted and re-created interface is a new one: the port binds to it anew).
/// Nothing the reader meets ends the process: a failure is logged and the socket reopened.
/// </remarks>
public sealed class SocketCanPort : ICanPort
{
    private const int Unknown = -1; // the state before the first look, so that the first one is logged

    private readonly SocketCanPortOptions _options;
    private readonly ILogger _logger;
    private readonly CanFrameQueue _queue;
    private readonly byte[] _receiveBuffer = new byte[SocketCanConstants.FdMtu];
    private readonly byte[]? _filters;
    private readonly Lock _openGate = new(); // opening, closing and the echo option; never the frames
    private readonly Lock _sendGate = new(); // while echoes are wanted: a send and its record, so that records are in the socket's order
    private readonly UnconfirmedFrames _unconfirmed;
    private readonly ManualResetEventSlim _stopping = new();
    private readonly Thread _reader;
    private readonly RateLimitedLog _stateLog = new(), _dropLog = new(), _refusedLog = new(), _failureLog = new();
    private volatile RawSocket? _socket;
    private volatile bool _confirms;
    private volatile bool _supportsFd;
    private volatile int _receiveBufferSize;
    private int _boundIndex;
    private int _state = Unknown;
    private uint _kernelDropCount;
    private long _sent, _received, _dropped, _kernelDropped, _echoesLost, _echoesRestored, _echoesSkipped;
    private int _disposed;

    /// <summary>
    /// A port on interface <paramref name="interfaceName"/>: opened now if it is there, looked for every retry interval
    /// otherwise; the reader thread starts at once.
    /// </summary>
    /// <exception cref="ArgumentException">The name is not one Linux can hold (empty, over 15 bytes, a NUL), or the options are out of range.</exception>
    public SocketCanPort(string interfaceName, SocketCanPortOptions? options = null, ILogger? logger = null)
    {
        RawSocket.WriteInterfaceName(interfaceName, stackalloc byte[RawSocket.InterfaceNameSize]);
        _options = options ?? new SocketCanPortOptions();
        if (_options.RetryInterval <= TimeSpan.Zero || _options.RetryInterval > TimeSpan.FromMinutes(10))
            throw new ArgumentException($"SocketCAN retry interval {_options.RetryInterval} is out of range (0, 10 min]", nameof(options));
        if (_options.EchoLossTimeout <= TimeSpan.Zero)
            throw new ArgumentException($"SocketCAN echo loss timeout {_options.EchoLossTimeout} is not positive", nameof(options));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(_options.ReceiveBufferBytes, "options.ReceiveBufferBytes");
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(_options.EchoRoom, "options.EchoRoom");
        Name = interfaceName;
        _logger = logger ?? NullLogger.Instance;
        _queue = new CanFrameQueue(_options.Capacity, _options.ErrorRoom, _options.EchoRoom);
        _unconfirmed = new UnconfirmedFrames(_options.EchoRoom);
        if (_options.Filters is { } filters)
        {
            _filters = new byte[filters.Count * CanFilter.Size];
            CanFilter.Write(filters.ToArray(), _filters);
        }
        TryOpen();
        _reader = new Thread(ReadLoop) { IsBackground = true, Name = $"socketcan {interfaceName}" };
        _reader.Start();
    }

    /// <inheritdoc/>
    /// <remarks>The interface's name.</remarks>
    public string Name { get; }

    /// <inheritdoc/>
    public Action? FrameArrived { get; set; }

    /// <inheritdoc/>
    /// <remarks>Turns CAN_RAW_RECV_OWN_MSGS on or off on the socket (and on every socket opened later).</remarks>
    public bool ConfirmsTransmits
    {
        get => _confirms;
        set
        {
            lock (_openGate)
            {
                if (_confirms == value) return;
                _confirms = value;
                try
                {
                    _socket?.SetOption(SocketCanConstants.SolCanRaw, SocketCanConstants.RawReceiveOwnMessages, value ? 1 : 0);
                }
                catch (SharedMemoryException e)
                {
                    // The socket is failing; the reader reopens it, with the option as it now stands.
                    _logger.LogWarning("{Port}: cannot turn own-frame echoes {OnOff}: {Error}", Name, value ? "on" : "off", e.Message);
                }
            }
            lock (_sendGate) _unconfirmed.Clear(); // what was awaited before is not awaited now
        }
    }

    /// <inheritdoc/>
    /// <remarks>While echoes are wanted, <see cref="Send"/> answers Busy rather than have more await theirs.</remarks>
    public int MaxUnconfirmed => _options.EchoRoom;

    /// <summary>Where the interface stands now.</summary>
    public SocketCanPortState State => Volatile.Read(ref _state) is var s && s != Unknown ? (SocketCanPortState)s : SocketCanPortState.Missing;

    /// <summary>True when the interface carries CAN FD frames (its MTU is CANFD_MTU); an FD frame sent otherwise is refused.</summary>
    public bool SupportsFd => _supportsFd;

    /// <summary>The receive buffer the kernel granted the socket, in bytes of its accounting (0 while missing).</summary>
    public int ReceiveBufferSize => _receiveBufferSize;

    /// <summary>The index of the interface the socket is bound to (0 while missing).</summary>
    public int InterfaceIndex => Volatile.Read(ref _boundIndex);

    /// <summary>Frames the bus took from this port.</summary>
    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Frames taken from this port's queue.</summary>
    public long Received => Interlocked.Read(ref _received);

    /// <inheritdoc/>
    /// <remarks>Frames the queue had no room for, those the kernel dropped before the reader got them, and unreadable ones.</remarks>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Of <see cref="Dropped"/>: frames the kernel dropped because the socket's receive buffer was full (SO_RXQ_OVFL).</summary>
    public long KernelDropped => Interlocked.Read(ref _kernelDropped);

    /// <summary>
    /// Echoes that never reached the queue: no room for them there, or given up after the kernel dropped frames and no
    /// later echo vouched for theirs (<see cref="SocketCanPortOptions.EchoLossTimeout"/>).
    /// </summary>
    public long EchoesLost => Interlocked.Read(ref _echoesLost);

    /// <summary>
    /// Echoes the kernel dropped from the full receive buffer, restored because a later echo proved the frame left (a
    /// controller sends one socket's frames in order).
    /// </summary>
    public long EchoesRestored => Interlocked.Read(ref _echoesRestored);

    /// <summary>Frames whose echo was passed over by a later one with no drop to explain it (a bus that reordered them): left unconfirmed.</summary>
    public long EchoesSkipped => Interlocked.Read(ref _echoesSkipped);

    /// <inheritdoc/>
    public int Pending => _queue.Count;

    /// <inheritdoc/>
    /// <remarks>
    /// Busy when the kernel has no room (EAGAIN, ENOBUFS); Down while the interface is missing or down, and for a frame
    /// the interface refuses (an FD frame on a classic interface: logged).
    /// </remarks>
    public CanSendResult Send(in CanFrame frame)
    {
        RawSocket? socket = _socket;
        if (socket is null) return CanSendResult.Down;
        if (frame.IsFd ? frame.IsRemote || frame.Length > CanFrame.MaxLength : frame.Length > 8)
        {
            if (_refusedLog.ShouldLog(out long s))
                _logger.LogWarning("{Port}: not sent: a {Kind} frame of {Length} bytes cannot exist{Suppressed}", Name, frame.IsFd ? "CAN FD" : "classic", frame.Length, RateLimitedLog.Note(s));
            return CanSendResult.Down;
        }
        Span<byte> raw = stackalloc byte[SocketCanConstants.FdMtu];
        int size = SocketCanFrameCodec.Write(frame, raw);
        SocketSendResult result;
        int error;
        try
        {
            if (_confirms)
            {
                lock (_sendGate)
                {
                    if (_unconfirmed.IsFull) return CanSendResult.Busy;
                    result = socket.TrySend(raw[..size], out error);
                    if (result == SocketSendResult.Sent) _unconfirmed.TryAdd(frame, Interlocked.Read(ref _kernelDropped), Stopwatch.GetTimestamp());
                }
            }
            else result = socket.TrySend(raw[..size], out error);
        }
        catch (ObjectDisposedException)
        {
            return CanSendResult.Down; // the reader closed it this instant: the interface went away
        }
        switch (result)
        {
            case SocketSendResult.Sent:
                Interlocked.Increment(ref _sent);
                if (Volatile.Read(ref _state) != (int)SocketCanPortState.Up) SetState(SocketCanPortState.Up); // it took a frame: it is up
                return CanSendResult.Sent;
            case SocketSendResult.Busy:
                return CanSendResult.Busy;
            case SocketSendResult.Down:
                if (error == ENETDOWN) SetState(SocketCanPortState.Down);
                else socket.Wake(); // ENXIO, ENODEV: unbound from a deleted interface; the reader looks
                return CanSendResult.Down;
            default:
                if (_refusedLog.ShouldLog(out long suppressed))
                    _logger.LogWarning("{Port}: the kernel refused a {Kind} frame: {Error}{Suppressed}", Name, frame.IsFd ? "CAN FD" : "classic",
                        ErrorText(error) + (frame.IsFd && !_supportsFd ? " (the interface is classic CAN only: its MTU is not CANFD_MTU)" : ""), RateLimitedLog.Note(suppressed));
                return CanSendResult.Down;
        }
    }

    /// <inheritdoc/>
    public bool TryReceive(out CanFrame frame)
    {
        if (!_queue.TryTake(out frame)) return false;
        Interlocked.Increment(ref _received);
        return true;
    }

    /// <inheritdoc/>
    public bool TryPeek(out CanFrame frame) => _queue.TryPeek(out frame);

    private void ReadLoop()
    {
        int intervalMs = (int)_options.RetryInterval.TotalMilliseconds;
        long nextCheck = Stopwatch.GetTimestamp() + Stopwatch.Frequency * intervalMs / 1000;
        while (!_stopping.IsSet)
        {
            try
            {
                RawSocket? socket = _socket;
                if (socket is null)
                {
                    if (_stopping.Wait(_options.RetryInterval)) break;
                    TryOpen();
                    continue;
                }
                long now = Stopwatch.GetTimestamp();
                int wait = (int)Math.Clamp((nextCheck - now) * 1000 / Stopwatch.Frequency, 0, intervalMs);
                SocketWaitResult woke = socket.WaitReadable(wait);
                if (_stopping.IsSet) break;
                if (woke == SocketWaitResult.Readable) Drain(socket);
                if (_socket != socket) continue; // closed or replaced while draining: the next round uses what is there now
                if (woke == SocketWaitResult.Woken || Stopwatch.GetTimestamp() >= nextCheck)
                {
                    AbandonLostEchoes(socket);
                    Check(socket);
                    nextCheck = Stopwatch.GetTimestamp() + Stopwatch.Frequency * intervalMs / 1000;
                }
            }
            catch (ObjectDisposedException) when (_stopping.IsSet)
            {
                break;
            }
            catch (Exception e)
            {
                if (_failureLog.ShouldLog(out long s))
                    _logger.LogError(e, "{Port}: the reader failed; reopening the socket in {Interval}{Suppressed}", Name, _options.RetryInterval, RateLimitedLog.Note(s));
                Close(SocketCanPortState.Missing);
                if (_stopping.Wait(_options.RetryInterval)) break;
            }
        }
    }

    // Reads what the socket holds, in batches: the taker is woken when the queue stops being empty and after every
    // batch that added to it, so that a flood neither waits for the socket to run dry nor costs a wake-up per frame.
    private void Drain(RawSocket socket)
    {
        const int Batch = 32;
        bool owed = false; // frames were queued since the last wake-up
        try
        {
            while (true)
            {
                for (int i = 0; i < Batch; i++)
                {
                    switch (socket.TryReceive(_receiveBuffer, out ReceivedDatagram datagram, out int error))
                    {
                        case SocketReceiveResult.Received:
                            bool wasEmpty = _queue.Count == 0;
                            if (!Take(datagram)) continue;
                            if (wasEmpty) Wake();
                            owed = !wasEmpty;
                            continue;
                        case SocketReceiveResult.Empty:
                            return;
                        case SocketReceiveResult.Down:
                            if (error == ENETDOWN) SetState(SocketCanPortState.Down);
                            else Check(socket); // ENODEV: the interface was deleted
                            return;
                        default:
                            throw new SharedMemoryException($"receive on {Name}: {ErrorText(error)}", error);
                    }
                }
                if (owed) Wake();
                owed = false;
            }
        }
        finally
        {
            if (owed) Wake();
        }
    }

    // One datagram into the queue; true when it was queued.
    private bool Take(in ReceivedDatagram datagram)
    {
        uint drops = datagram.DropCount;
        if (drops != _kernelDropCount)
        {
            uint lost = drops - _kernelDropCount; // the kernel's counter is cumulative and wraps
            _kernelDropCount = drops;
            Interlocked.Add(ref _kernelDropped, lost);
            Interlocked.Add(ref _dropped, lost);
            if (_dropLog.ShouldLog(out long s))
                _logger.LogWarning("{Port}: the kernel dropped {Count} frames before this port read them (its receive buffer was full){Suppressed}", Name, lost, RateLimitedLog.Note(s));
        }
        if ((datagram.Flags & ReceivedFlags.Truncated) != 0
            || !SocketCanFrameCodec.TryRead(_receiveBuffer.AsSpan(0, datagram.Length), out CanFrame frame))
        {
            Interlocked.Increment(ref _dropped);
            return false;
        }
        if ((datagram.Flags & ReceivedFlags.Confirm) != 0)
        {
            if (!_confirms) return false; // sent while echoes were wanted, arriving after they no longer are
            frame.Kind |= CanFrameKind.Echo;
            return TakeEcho(frame);
        }
        if (_queue.TryAdd(frame)) return true;
        Interlocked.Increment(ref _dropped);
        return false;
    }

    // An echo of ours: the oldest awaited, as nearly always, without the lock; otherwise under it (its sender may still
    // be recording it, or older echoes were lost and are restored here).
    private bool TakeEcho(in CanFrame echo)
    {
        if (_unconfirmed.TryConfirmOldest(echo))
        {
            if (_queue.TryAdd(echo)) return true;
            EchoesRefused(1);
            return false;
        }
        EchoConfirmation c;
        lock (_sendGate) c = _unconfirmed.Confirm(echo, Interlocked.Read(ref _kernelDropped), _queue);
        if (c.Restored > 0)
        {
            Interlocked.Add(ref _echoesRestored, c.Restored);
            if (_dropLog.ShouldLog(out long s))
                _logger.LogWarning("{Port}: {Count} echoes lost to the full receive buffer restored: a later echo shows their frames left{Suppressed}", Name, c.Restored, RateLimitedLog.Note(s));
        }
        if (c.Skipped > 0)
        {
            Interlocked.Add(ref _echoesSkipped, c.Skipped);
            if (_dropLog.ShouldLog(out long s))
                _logger.LogWarning("{Port}: the echo of a later frame came before {Count} older ones with nothing dropped: the bus reordered them; they stay unconfirmed{Suppressed}", Name, c.Skipped, RateLimitedLog.Note(s));
        }
        if (c.Refused > 0) EchoesRefused(c.Refused);
        return true; // something may have been queued: a wake-up too many costs nothing

    }

    private void EchoesRefused(int count)
    {
        Interlocked.Add(ref _dropped, count);
        Interlocked.Add(ref _echoesLost, count);
        if (_dropLog.ShouldLog(out long s))
            _logger.LogWarning("{Port}: {Count} echoes lost: more than {Max} frames awaited confirmation{Suppressed}", Name, count, MaxUnconfirmed, RateLimitedLog.Note(s));
    }

    // Frames whose echoes may have been dropped with the kernel's and that no later echo vouched for, given up after the
    // timeout. The drops are read from the socket itself: when the last echoes were dropped, no later datagram tells.
    private void AbandonLostEchoes(RawSocket socket)
    {
        if (_unconfirmed.Count == 0) return;
        long dropsNow = Interlocked.Read(ref _kernelDropped) + (uint)(socket.DropCount() - _kernelDropCount);
        long before = Stopwatch.GetTimestamp() - (long)(_options.EchoLossTimeout.TotalSeconds * Stopwatch.Frequency);
        int n;
        lock (_sendGate) n = _unconfirmed.Abandon(before, dropsNow, _queue);
        if (n > 0) Wake();
        if (n == 0) return;
        Interlocked.Add(ref _echoesLost, n);
        if (_dropLog.ShouldLog(out long s))
            _logger.LogWarning("{Port}: {Count} frames given up: the kernel dropped frames after they were sent and no later echo came in {Timeout} to show they left{Suppressed}",
                Name, n, _options.EchoLossTimeout, RateLimitedLog.Note(s));
    }

    // Wakes the taker; a callback that throws is the taker's fault, logged, and does not stop the reader.
    private void Wake()
    {
        try
        {
            FrameArrived?.Invoke();
        }
        catch (Exception e)
        {
            if (_failureLog.ShouldLog(out long s)) _logger.LogError(e, "{Port}: the frame-arrived callback failed{Suppressed}", Name, RateLimitedLog.Note(s));
        }
    }

    // Looks at the interface by name: gone (closed, looked for again later), replaced by another of the same name
    // (reopened on it), down or up.
    private void Check(RawSocket socket)
    {
        int index;
        bool up;
        try
        {
            index = socket.InterfaceIndex(Name);
            up = socket.InterfaceIsUp(Name);
        }
        catch (SharedMemoryException e) when (e.Errno == ENODEV)
        {
            Close(SocketCanPortState.Missing);
            return;
        }
        if (index != Volatile.Read(ref _boundIndex))
        {
            _logger.LogInformation("{Port}: the interface was re-created (index {Old} is now {New}); binding to the new one", Name, _boundIndex, index);
            Close(SocketCanPortState.Missing);
            TryOpen();
            return;
        }
        SetState(up ? SocketCanPortState.Up : SocketCanPortState.Down);
    }

    // Opens, configures and binds a socket on the interface; false (and the state says why) when it cannot now.
    private bool TryOpen()
    {
        RawSocket socket;
        try
        {
            socket = RawSocket.Open(SocketCanConstants.AddressFamily, SOCK_RAW, SocketCanConstants.RawProtocol);
        }
        catch (SharedMemoryException e)
        {
            string why = e.Errno == EAFNOSUPPORT || e.Errno == EPROTONOSUPPORT
                ? "this kernel has no SocketCAN raw sockets (modprobe can-raw)"
                : $"a CAN socket cannot be opened: {e.Message}";
            SetState(SocketCanPortState.Missing, why);
            return false;
        }
        try
        {
            int index = socket.InterfaceIndex(Name);
            bool fd = true;
            try
            {
                socket.SetOption(SocketCanConstants.SolCanRaw, SocketCanConstants.RawFdFrames, 1);
            }
            catch (SharedMemoryException e) when (e.Errno == ENOPROTOOPT)
            {
                fd = false; // a kernel without CAN FD: classic frames only
            }
            socket.SetOption(SocketCanConstants.SolCanRaw, SocketCanConstants.RawErrorFilter, (int)_options.ErrorClasses);
            if (_filters is not null) socket.SetOption(SocketCanConstants.SolCanRaw, SocketCanConstants.RawFilter, _filters);
            int receiveBuffer = socket.SetReceiveBuffer(_options.ReceiveBufferBytes);
            socket.EnableDropCounter();
            Span<byte> address = stackalloc byte[SocketCanConstants.SockaddrSize];
            SockaddrCan.Write(address, index);
            socket.Bind(address);
            fd &= socket.InterfaceMtu(Name) >= SocketCanConstants.FdMtu;
            bool up = socket.InterfaceIsUp(Name);
            lock (_openGate)
            {
                // Under the gate, so that a ConfirmsTransmits set meanwhile reaches this socket or is read here.
                socket.SetOption(SocketCanConstants.SolCanRaw, SocketCanConstants.RawReceiveOwnMessages, _confirms ? 1 : 0);
                _kernelDropCount = 0;
                Volatile.Write(ref _boundIndex, index);
                _supportsFd = fd;
                _receiveBufferSize = receiveBuffer;
                _socket = socket;
            }
            SetState(up ? SocketCanPortState.Up : SocketCanPortState.Down);
            return true;
        }
        catch (Exception e)
        {
            socket.Dispose();
            if (e is SharedMemoryException { Errno: var n } && n == ENODEV) SetState(SocketCanPortState.Missing);
            else SetState(SocketCanPortState.Missing, $"cannot open a CAN socket on it: {e.Message}");
            return false;
        }
    }

    private void Close(SocketCanPortState state)
    {
        RawSocket? socket;
        lock (_openGate)
        {
            socket = _socket;
            _socket = null;
            Volatile.Write(ref _boundIndex, 0);
            _receiveBufferSize = 0;
        }
        socket?.Dispose(); // a send in flight keeps it open until it returns (the handle's reference)
        // Sent on a socket that is gone: no echo will come. The reader (the queue's one adder) says so with lost echoes.
        int lost = 0;
        lock (_sendGate)
        {
            if (Thread.CurrentThread == _reader) lost = _unconfirmed.AbandonAll(_queue);
            else _unconfirmed.Clear();
        }
        if (lost > 0) Wake();
        SetState(state);
    }

    // Logs transitions only, rate-limited (an interface can flap, and a peer's sends are what notice it).
    private void SetState(SocketCanPortState state, string? why = null)
    {
        int old = Interlocked.Exchange(ref _state, (int)state);
        if (old == (int)state || !_stateLog.ShouldLog(out long s)) return;
        string note = RateLimitedLog.Note(s);
        switch (state)
        {
            case SocketCanPortState.Missing:
                _logger.LogWarning("{Port}: {Why}; frames are answered Down until it appears (looking again every {Interval}){Suppressed}",
                    Name, why ?? "no such CAN interface", _options.RetryInterval, note);
                break;
            case SocketCanPortState.Down:
                _logger.LogWarning("{Port}: the interface is down (ip link set {Port} up); frames are answered Down until it is up{Suppressed}", Name, Name, note);
                break;
            default:
                _logger.LogInformation("{Port}: the interface is up (index {Index}, CAN FD {Fd}); serving{Suppressed}", Name, _boundIndex, _supportsFd ? "yes" : "no", note);
                break;
        }
    }

    private static string ErrorText(int error) => $"{System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(error)} (errno {error})";

    /// <summary>Stops the reader (promptly: it is woken) and closes the socket.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stopping.Set();
        _socket?.Wake();
        if (Thread.CurrentThread != _reader && !_reader.Join(TimeSpan.FromSeconds(10)))
            _logger.LogError("{Port}: the reader did not stop within 10 s (a frame-arrived callback blocks?)", Name);
        lock (_openGate)
        {
            _socket?.Dispose();
            _socket = null;
        }
        if (!_reader.IsAlive) _stopping.Dispose();
    }
}

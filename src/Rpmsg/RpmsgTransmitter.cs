using System.Buffers;
using System.Collections.Concurrent;
using AmpCan.Rpmsg.Wire;

namespace AmpCan.Rpmsg;

/// <summary>
/// The send paths of an rpmsg device, as Linux's rpmsg_send family and virtio_rpmsg_bus's tx side: copy, try,
/// blocking with timeout and cancellation, zero copy, and posted messages (queued copies the device's loop sends in
/// order as buffers come back). It counts the senders waiting for a buffer, so the device asks the peer for
/// transmit-complete notifications only while someone waits (rpmsg_upref_sleepers / rpmsg_downref_sleepers).
/// </summary>
internal sealed class RpmsgTransmitter
{
    private readonly RpmsgBus _bus;
    private readonly int[] _owner;   // generation of a zero-copy buffer held by a caller, 0 if none
    private int _generation;
    private int _waiters;            // blocked senders, plus one while posted messages wait
    private readonly object _wait = new(); // Monitor.Wait/PulseAll need a monitor
    private readonly ConcurrentQueue<Posted> _posted = new();
    private int _postedCount;

    private readonly record struct Posted(uint Source, uint Destination, byte[] Array, int Length);

    public RpmsgTransmitter(RpmsgBus bus, int txIds, int postCapacity)
    {
        _bus = bus;
        _owner = new int[txIds];
        PostCapacity = postCapacity;
    }

    /// <summary>Messages the post queue holds before <see cref="Post"/> refuses.</summary>
    public int PostCapacity { get; }

    /// <summary>Senders waiting for a buffer, plus one while posted messages wait.</summary>
    public int Waiters => Volatile.Read(ref _waiters);

    /// <summary>A non-blocking sender registers (see <see cref="RpmsgTxWaiter"/>).</summary>
    public void AddWaiter() => Interlocked.Increment(ref _waiters);

    /// <summary>It leaves; the last one turns transmit-complete notifications off.</summary>
    public void RemoveWaiter()
    {
        if (Interlocked.Decrement(ref _waiters) == 0) _bus.OnLastTxWaiterLeft();
    }

    /// <summary>Posted messages not sent yet.</summary>
    public int PostedCount => Volatile.Read(ref _postedCount);

    private void CheckAddresses(uint source, uint destination)
    {
        if (source == RpmsgAddress.Any || destination == RpmsgAddress.Any)
            throw new RpmsgException(RpmsgError.InvalidAddress, $"cannot send from 0x{source:x} to 0x{destination:x}: RPMSG_ADDR_ANY is not an address");
    }

    private void CheckSize(int length)
    {
        if (length > _bus.Mtu)
            throw new RpmsgException(RpmsgError.MessageTooLarge, $"payload of {length} bytes exceeds the {_bus.Mtu}-byte MTU of {_bus.Name}");
    }

    public bool Send(uint source, uint destination, ReadOnlySpan<byte> payload, bool wait, TimeSpan? timeout, CancellationToken cancellation)
    {
        CheckAddresses(source, destination);
        CheckSize(payload.Length);
        _bus.ThrowIfNotReady();
        lock (_bus.TxLock)
        {
            // Fast path: one critical section from taking a buffer to handing it over.
            if (_bus.TryAcquireTx(out int id, out int capacity))
            {
                FillAndSubmit(id, capacity, source, destination, payload);
                return true;
            }
        }
        if (!Acquire(wait, timeout, cancellation, out int slow, out int slowCapacity)) return false;
        lock (_bus.TxLock) FillAndSubmit(slow, slowCapacity, source, destination, payload);
        return true;
    }

    private void FillAndSubmit(int id, int capacity, uint source, uint destination, ReadOnlySpan<byte> payload)
    {
        if (payload.Length > capacity)
        {
            _bus.ReturnTx(id);
            throw new RpmsgException(RpmsgError.MessageTooLarge, $"payload of {payload.Length} bytes exceeds the {capacity}-byte payload of the peer's buffer");
        }
        Span<byte> buf = _bus.TxBufferSpan(id);
        new RpmsgHeader(source, destination, 0, (ushort)payload.Length, 0).Write(buf);
        payload.CopyTo(buf[RpmsgHeader.Size..]);
        _bus.SubmitTx(id, payload.Length);
    }

    // ---- posted messages ----

    public bool Post(uint source, uint destination, ReadOnlySpan<byte> payload, bool force)
    {
        CheckAddresses(source, destination);
        CheckSize(payload.Length);
        if (_bus.State == RpmsgDeviceState.Failed) _bus.ThrowIfNotReady();
        // Straight out only when nothing posted waits: a posted message never overtakes an earlier one.
        if (_bus.IsReady && Volatile.Read(ref _postedCount) == 0)
        {
            if (IsUnwantedAnnouncement(destination)) return true;
            if (Send(source, destination, payload, wait: false, null, default)) return true;
        }
        if (!force && Volatile.Read(ref _postedCount) >= PostCapacity)
        {
            Interlocked.Increment(ref _bus.Statistics.PostsRefused);
            return false;
        }
        byte[] copy = ArrayPool<byte>.Shared.Rent(Math.Max(1, payload.Length));
        payload.CopyTo(copy);
        _posted.Enqueue(new Posted(source, destination, copy, payload.Length));
        if (Interlocked.Increment(ref _postedCount) == 1) Interlocked.Increment(ref _waiters);
        _bus.WakeLoop();
        return true;
    }

    // Announcements queued before feature negotiation go nowhere when the name service was not negotiated.
    private bool IsUnwantedAnnouncement(uint destination) => destination == RpmsgAddress.NameService && !_bus.NameServiceEnabled;

    /// <summary>Sends posted messages while buffers are free (on the thread that owns the device's loop work).</summary>
    public bool FlushPosted()
    {
        if (Volatile.Read(ref _postedCount) == 0 || !_bus.IsReady) return false;
        bool did = false;
        while (_posted.TryPeek(out Posted p))
        {
            if (!IsUnwantedAnnouncement(p.Destination))
            {
                try
                {
                    if (!Send(p.Source, p.Destination, p.Array.AsSpan(0, p.Length), wait: false, null, default)) break;
                }
                catch (RpmsgException e) when (e.Error == RpmsgError.MessageTooLarge)
                {
                    // The peer's buffers shrank below what was accepted; it can never go out.
                    _bus.ReportUnsendablePost(p.Destination, p.Length, e.Message);
                }
            }
            _posted.TryDequeue(out _);
            ArrayPool<byte>.Shared.Return(p.Array);
            did = true;
            if (Interlocked.Decrement(ref _postedCount) == 0) Interlocked.Decrement(ref _waiters);
        }
        return did;
    }

    /// <summary>Drops every posted message (the device stopped).</summary>
    public void DropPosted()
    {
        while (_posted.TryDequeue(out Posted p))
        {
            ArrayPool<byte>.Shared.Return(p.Array);
            if (Interlocked.Decrement(ref _postedCount) == 0) Interlocked.Decrement(ref _waiters);
        }
    }

    // ---- zero copy ----

    public bool TryGetBuffer(bool wait, TimeSpan? timeout, CancellationToken cancellation, out RpmsgTxBuffer buffer)
    {
        if (!Acquire(wait, timeout, cancellation, out int id, out int capacity))
        {
            buffer = default;
            return false;
        }
        int gen = Interlocked.Increment(ref _generation);
        if (gen == 0) gen = Interlocked.Increment(ref _generation);
        Volatile.Write(ref _owner[id], gen);
        buffer = new RpmsgTxBuffer(_bus, id, capacity, gen);
        return true;
    }

    public Span<byte> Payload(RpmsgTxBuffer b)
    {
        if (b.Generation == 0 || Volatile.Read(ref _owner[b.Id]) != b.Generation)
            throw new InvalidOperationException("this transmit buffer was already sent or released");
        return _bus.TxBufferSpan(b.Id).Slice(RpmsgHeader.Size, b.Capacity);
    }

    public void SendNoCopy(in RpmsgTxBuffer b, uint source, uint destination, int length)
    {
        CheckAddresses(source, destination);
        if ((uint)length > (uint)b.Capacity)
            throw new RpmsgException(RpmsgError.MessageTooLarge, $"length {length} is outside the {b.Capacity}-byte buffer");
        Disown(b);
        new RpmsgHeader(source, destination, 0, (ushort)length, 0).Write(_bus.TxBufferSpan(b.Id));
        lock (_bus.TxLock) _bus.SubmitTx(b.Id, length);
    }

    public void Release(in RpmsgTxBuffer b)
    {
        Disown(b);
        lock (_bus.TxLock) _bus.ReturnTx(b.Id);
        SignalAvailable();
    }

    private void Disown(in RpmsgTxBuffer b)
    {
        if (b.Generation == 0 || Interlocked.CompareExchange(ref _owner[b.Id], 0, b.Generation) != b.Generation)
            throw new InvalidOperationException("this transmit buffer was already sent or released");
    }

    // ---- waiting for a buffer ----

    private bool TryAcquire(out int id, out int capacity)
    {
        lock (_bus.TxLock) return _bus.TryAcquireTx(out id, out capacity);
    }

    private bool Acquire(bool wait, TimeSpan? timeout, CancellationToken cancellation, out int id, out int capacity)
    {
        _bus.ThrowIfNotReady();
        if (TryAcquire(out id, out capacity)) return true;
        if (!wait) return false;
        // A callback runs on the thread that processes the receive queue: waiting there would stall every endpoint
        // of the device (and could wait for buffers only that thread can return).
        if (_bus.InReceiveContext)
            throw new RpmsgException(RpmsgError.NoBuffer, $"no transmit buffer is free on {_bus.Name}, and a receive callback never waits for one; use Post, or send from another thread");
        Interlocked.Increment(ref _bus.Statistics.SendWaits);
        TimeSpan limit = timeout ?? _bus.SendTimeout;
        long deadline = limit == Timeout.InfiniteTimeSpan ? long.MaxValue : Environment.TickCount64 + (long)limit.TotalMilliseconds;
        Interlocked.Increment(ref _waiters);
        _bus.WakeLoop();
        try
        {
            using CancellationTokenRegistration reg = cancellation.CanBeCanceled ? cancellation.Register(SignalAvailable) : default;
            lock (_wait)
            {
                while (true)
                {
                    if (TryAcquire(out id, out capacity)) return true;
                    _bus.ThrowIfNotReady();
                    if (cancellation.IsCancellationRequested)
                        throw new RpmsgException(RpmsgError.Cancelled, "send cancelled while waiting for a transmit buffer");
                    long left = deadline - Environment.TickCount64;
                    if (left <= 0)
                        throw new RpmsgException(RpmsgError.Timeout, $"no transmit buffer became free within {limit.TotalMilliseconds:F0} ms on {_bus.Name}");
                    Monitor.Wait(_wait, (int)Math.Min(left, int.MaxValue));
                }
            }
        }
        finally
        {
            // The last waiting sender leaving turns transmit-complete interrupts off again (rpmsg_downref_sleepers).
            if (Interlocked.Decrement(ref _waiters) == 0) _bus.OnLastTxWaiterLeft();
        }
    }

    /// <summary>Wakes blocked senders (transmit buffers may have become free, or the device stopped).</summary>
    public void SignalAvailable()
    {
        lock (_wait) Monitor.PulseAll(_wait);
    }
}

using AmpCan.SharedMem;
using AmpCan.Vring;
using Microsoft.Extensions.Logging;

namespace AmpCan.Rpmsg;

/// <summary>Buffer pool and behaviour of the host side of an rpmsg device.</summary>
public sealed record RpmsgHostOptions
{
    /// <summary>Linux's MAX_RPMSG_NUM_BUFS: receive and transmit buffers together, at most.</summary>
    public const int LinuxMaxBuffers = 512;

    /// <summary>Receive buffers (posted to vq0 before DRIVER_OK); null: as Linux, half of min(2 × vq0 size, 512). At most the ring size.</summary>
    public int? RxBufferCount { get; init; }
    /// <summary>Bytes per receive buffer, header included.</summary>
    public int RxBufferSize { get; init; } = VirtioRpmsg.DefaultBufferSize;
    /// <summary>Transmit buffers; null: as Linux, half of min(2 × vq0 size, 512). At most the ring size.</summary>
    public int? TxBufferCount { get; init; }
    /// <summary>Bytes per transmit buffer, header included (MTU = size − 16).</summary>
    public int TxBufferSize { get; init; } = VirtioRpmsg.DefaultBufferSize;
    /// <summary>Blocking-send timeout (default 15 s, as Linux).</summary>
    public TimeSpan? SendTimeout { get; init; }
    /// <summary>Messages a queued endpoint keeps before dropping.</summary>
    public int EndpointQueueCapacity { get; init; } = 256;
    /// <summary>Received buffers handled per loop pass before other work gets a turn.</summary>
    public int RxBatch { get; init; } = 64;
    /// <summary>How long a thread waiting for a reply polls the receive ring itself before it sleeps (not in doorbell mode).</summary>
    public TimeSpan ReplyPollBudget { get; init; } = TimeSpan.FromMicroseconds(200);
    /// <summary>Features the host accepts when offered (NS, EVENT_IDX).</summary>
    public ulong SupportedFeatures { get; init; } = VirtioRingFeatures.Bit(VirtioRpmsg.FeatureNameService) | VirtioRingFeatures.Bit(VirtioRingFeatures.EventIndex);

    /// <summary>
    /// The buffer counts for rings of these sizes: as Linux's virtio_rpmsg_bus (min(2 × vq0 size, 512) buffers, half
    /// each way) where none is given; a count that does not fit its ring is a configuration error naming both.
    /// </summary>
    /// <exception cref="RpmsgException"><see cref="RpmsgError.InvalidConfiguration"/>.</exception>
    public RpmsgHostOptions ForRings(int rxRingSize, int txRingSize)
    {
        int linux = (rxRingSize < LinuxMaxBuffers / 2 ? rxRingSize * 2 : LinuxMaxBuffers) / 2;
        int rx = RxBufferCount ?? Math.Min(linux, rxRingSize);
        int tx = TxBufferCount ?? Math.Min(linux, txRingSize);
        Check(rx, rxRingSize, RxBufferSize, "receive", "vq0");
        Check(tx, txRingSize, TxBufferSize, "transmit", "vq1");
        return this with { RxBufferCount = rx, TxBufferCount = tx };

        static void Check(int count, int ring, int size, string dir, string vq)
        {
            if (count < 1 || count > ring)
                throw new RpmsgException(RpmsgError.InvalidConfiguration, $"{count} {dir} buffers do not fit {vq}, a ring of {ring} entries (ask for 1 to {ring})");
            if (size <= Wire.RpmsgHeader.Size || size > Wire.RpmsgHeader.Size + ushort.MaxValue)
                throw new RpmsgException(RpmsgError.InvalidConfiguration, $"{dir} buffer size {size} must be between {Wire.RpmsgHeader.Size + 1} and {Wire.RpmsgHeader.Size + ushort.MaxValue} bytes");
        }
    }

    /// <summary>Bytes of shared memory the pool needs (counts resolved with <see cref="ForRings"/>).</summary>
    public ulong PoolSize => (ulong)(RxBufferCount ?? throw new InvalidOperationException("buffer counts not resolved; call ForRings"))
        * (ulong)RxBufferSize + (ulong)(TxBufferCount ?? 0) * (ulong)TxBufferSize;
}

/// <summary>
/// The host (virtio driver) side of rpmsg, as Linux <c>virtio_rpmsg_bus.c</c>: a buffer pool in shared memory
/// (receive buffers first, transmit after), vq0 receives and vq1 transmits, all receive buffers posted before
/// DRIVER_OK and the first kick after it.
/// </summary>
public sealed class VirtioRpmsgHost : RpmsgBus
{
    private readonly VirtioDriverContext _context;
    private readonly SplitRing _rxRing, _txRing;
    private readonly IoRegion _pool;
    private readonly byte[]? _bounce;  // device memory: the pool as this side sees it; only aligned copies touch the device
    private readonly VirtqueueNotifier _rxNotifier, _txNotifier;
    private readonly RpmsgHostOptions _options;
    private readonly ulong _txBase;
    private readonly Stack<int> _txSpare = new();
    private SplitVirtqueueDriver? _rxq, _txq;
    private int _txFresh;
    private bool _txSettledPending; // a take-over's transmit buffers may still be found free
    private readonly int _reclaimBelow;
    private readonly int _rxCount, _txCount;
    private readonly int[] _rxIdle;    // receive buffers consumed and not yet given back to the remote
    private int _rxIdleCount;
    private readonly int _repostBelow;

    /// <summary>Creates the host side over a probed device's queues (vq0 receives, vq1 transmits); nothing touches them until <see cref="Start"/>.</summary>
    /// <exception cref="RpmsgException"><see cref="RpmsgError.InvalidConfiguration"/>: fewer than two queues, no buffer memory, or buffers that do not fit the rings or the memory.</exception>
    public VirtioRpmsgHost(string name, VirtioDriverContext context, RpmsgHostOptions? options = null, ILogger? logger = null)
        : base(name, Resolve(name, options, context).TxBufferCount!.Value, Resolve(name, options, context).RxBufferCount!.Value,
            options?.SendTimeout, options?.EndpointQueueCapacity ?? new RpmsgHostOptions().EndpointQueueCapacity, logger)
    {
        options = Resolve(name, options, context);
        IoRegion bufferPool = context.BufferMemory
            ?? throw new RpmsgException(RpmsgError.InvalidConfiguration, $"{name}: the transport gives no memory the remote can address for the buffer pool");
        if (bufferPool.Length < options.PoolSize)
            throw new RpmsgException(RpmsgError.InvalidConfiguration,
                $"{name}: buffer pool '{bufferPool.Name}' has {bufferPool.Length} bytes; {options.RxBufferCount}×{options.RxBufferSize} + {options.TxBufferCount}×{options.TxBufferSize} need {options.PoolSize}");
        _context = context;
        _rxRing = context.Queues[0].Ring;
        _txRing = context.Queues[1].Ring;
        _rxNotifier = context.Queues[0].Notifier;
        _txNotifier = context.Queues[1].Notifier;
        _pool = bufferPool;
        if (bufferPool.Attributes == MemoryAttributes.Device)
        {
            // Nobody gets a span into device memory (a callback's vector loads would fault on Arm): every message is
            // copied between the pool and a private image of it, word by word, on its way in and out.
            if (options.PoolSize > (ulong)Array.MaxLength)
                throw new RpmsgException(RpmsgError.InvalidConfiguration, $"{name}: a buffer pool of {options.PoolSize} bytes in device memory is larger than this host can mirror");
            _bounce = new byte[options.PoolSize];
        }
        _options = options;
        _rxCount = options.RxBufferCount!.Value;
        _txCount = options.TxBufferCount!.Value;
        _txBase = (ulong)_rxCount * (ulong)options.RxBufferSize;
        _reclaimBelow = Math.Max(1, _txCount / 4);
        _rxIdle = new int[_rxCount];
        _repostBelow = _rxCount - Math.Max(1, _rxCount / 4) + 1;
        ReplyPollBudget = options.ReplyPollBudget;
        NegotiatedFeatures = context.Features;
        NameServiceEnabled = context.Has(VirtioRpmsg.FeatureNameService);
    }

    private static RpmsgHostOptions Resolve(string name, RpmsgHostOptions? options, VirtioDriverContext context) =>
        context.Queues.Count >= 2
            ? (options ?? new RpmsgHostOptions()).ForRings(context.Queues[0].Ring.QueueSize, context.Queues[1].Ring.QueueSize)
            : throw new RpmsgException(RpmsgError.InvalidConfiguration, $"{name}: an rpmsg device has two queues; this one has {context.Queues.Count}");

    /// <summary>Receive buffers posted to vq0.</summary>
    public int RxBuffers => _rxCount;

    /// <summary>Transmit buffers.</summary>
    public int TxBuffers => _txCount;

    /// <inheritdoc/>
    public override int Mtu => _options.TxBufferSize - Wire.RpmsgHeader.Size;

    /// <summary>Features the host accepted.</summary>
    public ulong NegotiatedFeatures { get; }

    /// <summary>
    /// Clears both rings, posts every receive buffer, sets DRIVER_OK and kicks, all on the calling thread, and only then
    /// hands the receive and transmit work to the context's loop, which owns the queues from then on (no moment where
    /// two threads use one queue). Features were negotiated by <see cref="VirtioDriverLifecycle"/>.
    /// </summary>
    public void Start()
    {
        if (_rxq is not null) throw new InvalidOperationException($"{Name} already started");
        _rxq = _context.CreateQueue(0);
        _txq = _context.CreateQueue(1);
        for (int i = 0; i < _rxCount; i++) PostRx(i);
        _rxq.Publish();
        _txq.DisableCallbacks();
        _context.SetDriverOk();
        if (_rxq.KickPrepare()) _rxNotifier.Notify();
        Logger.LogInformation("{Device}: DRIVER_OK, features 0x{Features:x}, {Rx}×{RxSize} receive and {Tx}×{TxSize} transmit buffers",
            Name, NegotiatedFeatures, _rxCount, _options.RxBufferSize, _txCount, _options.TxBufferSize);
        MarkReady();
        AttachToLoop(_context.Loop, _context.Incoming, _rxq, ProcessRx, _txq, ProcessTx);
    }

    /// <summary>
    /// Takes over a device another host left running (its DRIVER_OK set, its rings live), instead of <see cref="Start"/>:
    /// nothing is reset or cleared. With <paramref name="resume"/> from a detach the queues continue exactly and the
    /// channels come back at their addresses; without, the remote's returns are awaited before a buffer it may hold is
    /// reused (<see cref="SplitVirtqueueDriver.Adopt"/>), and channels appear as the remote announces them.
    /// </summary>
    /// <exception cref="VirtqueueException">The rings cannot be ones this pool's buffers made.</exception>
    public void Adopt(RpmsgHostResume? resume)
    {
        if (_rxq is not null) throw new InvalidOperationException($"{Name} already started");
        _rxq = _context.AdoptQueue(0, resume?.Rx, RxOwner, _rxCount);
        _txq = _context.AdoptQueue(1, resume?.Tx, TxOwner, _txCount);
        _txFresh = _txCount;
        TakeSettled();
        _txq.DisableCallbacks();
        if (resume is not null) RestoreChannels(resume.Channels);
        Logger.LogInformation("{Device}: took over a running device, features 0x{Features:x}; receive queue {Rx}; transmit queue {Tx}; {Channels} channels carried over",
            Name, NegotiatedFeatures, _rxq.AdoptionNote, _txq.AdoptionNote, resume?.Channels.Count ?? 0);
        MarkReady();
        if (_rxq.KickPrepare()) _rxNotifier.Notify();
        AttachToLoop(_context.Loop, _context.Incoming, _rxq, ProcessRx, _txq, ProcessTx);
    }

    /// <summary>
    /// Stops serving the device and leaves it running as it is (no reset): users see their endpoints and channels go,
    /// and the returned record lets the next host take over exactly (<see cref="Adopt"/>).
    /// </summary>
    public RpmsgHostResume Detach()
    {
        if (_rxq is null || _txq is null) throw new InvalidOperationException($"{Name} has not started");
        List<RpmsgChannelRecord> channels = ChannelRecords();
        DetachFromDevice();
        lock (TxLock) return new RpmsgHostResume(_rxq.Snapshot(), _txq.Snapshot(), channels);
    }

    // Buffers an adoption found free: receive buffers go back to the remote, transmit buffers to the spares.
    private void TakeSettled()
    {
        while (_rxq!.TryTakeSettled(out int rx)) PostRx(rx);
        lock (TxLock)
        {
            while (_txq!.TryTakeSettled(out int tx)) _txSpare.Push(tx);
            _txSettledPending = !_txq.AdoptionSettled;
        }
    }

    // Descriptors a host with this pool writes: a whole receive buffer, device-writable; a transmit buffer, read-only,
    // at most its size. Anything else in an adopted ring is not ours.
    private int RxOwner(ushort head, in Vring.Wire.VirtqDescriptor d)
    {
        if (d.Flags != VirtqDescFlags.Write || d.Length != (uint)_options.RxBufferSize) return -1;
        ulong off = d.Address - _pool.DeviceAddress;
        return off % (ulong)_options.RxBufferSize == 0 && off / (ulong)_options.RxBufferSize < (ulong)_rxCount ? (int)(off / (ulong)_options.RxBufferSize) : -1;
    }

    private int TxOwner(ushort head, in Vring.Wire.VirtqDescriptor d)
    {
        if (d.Flags != VirtqDescFlags.None || d.Length < Wire.RpmsgHeader.Size || d.Length > (uint)_options.TxBufferSize) return -1;
        ulong off = d.Address - _pool.DeviceAddress - _txBase;
        return off % (ulong)_options.TxBufferSize == 0 && off / (ulong)_options.TxBufferSize < (ulong)_txCount ? (int)(off / (ulong)_options.TxBufferSize) : -1;
    }

    private void PostRx(int id) =>
        _rxq!.TryAdd(new VirtqBuffer(_pool.DeviceAddress + (ulong)id * (ulong)_options.RxBufferSize, (uint)_options.RxBufferSize), deviceWritable: true, id);

    // Receive buffers go back to the remote in batches, once a quarter of them are in our hands (Linux gives each back
    // at once, with a kick): the remote never runs short, and a round trip costs it one interrupt, ours, instead of two.
    private bool ProcessRx()
    {
        if (State == RpmsgDeviceState.Failed) return false;
        int n = 0;
        try
        {
            while (TryTakeReleasedRx(out int released))
            {
                _rxIdle[_rxIdleCount++] = released;
                n++;
            }
            while (n < _options.RxBatch && _rxq!.TryGetUsed(out UsedBuffer u))
            {
                if (_bounce is not null) _pool.Read(RxOffset(u.Token), _bounce.AsSpan((int)RxOffset(u.Token), (int)Math.Min(u.Length, (uint)_options.RxBufferSize)));
                if (!Deliver(RxSpan(u.Token)[..(int)u.Length], u.Token)) _rxIdle[_rxIdleCount++] = u.Token;
                n++;
            }
            // Buffers a take-over found free once the remote returned what it owed (nothing, normally).
            while (_rxq!.TryTakeSettled(out int settled)) _rxIdle[_rxIdleCount++] = settled;
            if (_rxIdleCount > 0 && _rxq!.Outstanding < _repostBelow)
            {
                while (_rxIdleCount > 0) PostRx(_rxIdle[--_rxIdleCount]);
                if (_rxq.KickPrepare()) _rxNotifier.Notify();
            }
        }
        catch (VirtqueueException e)
        {
            Fail(e);
        }
        return n > 0;
    }

    private bool ProcessTx()
    {
        if (State == RpmsgDeviceState.Failed) return false;
        bool did = FlushPosted();
        // Reclaim transmit buffers the remote consumed here, between messages, so that a send does not have to read
        // the used ring on its own critical path; and only once the spares run low, in batches, because the remote
        // writes that ring on every message and reading it each pass would pull its cache line over every time.
        try
        {
            if (_txFresh == _txCount && _txSpare.Count < _reclaimBelow && _txq!.HasUsed)
                lock (TxLock) while (_txq.TryGetUsed(out UsedBuffer u)) _txSpare.Push(u.Token);
            if (_txSettledPending)
                lock (TxLock)
                {
                    while (_txq!.TryTakeSettled(out int settled)) _txSpare.Push(settled);
                    _txSettledPending = !_txq.AdoptionSettled;
                }
        }
        catch (VirtqueueException e)
        {
            Fail(e);
            return false;
        }
        if (TxWaiters > 0 && TxAvailable()) SignalTxAvailable();
        return did;
    }

    private bool TxAvailable()
    {
        lock (TxLock) return HasFreeTxLocked();
    }

    /// <inheritdoc/>
    protected override bool HasFreeTxLocked() => _txSpare.Count > 0 || _txFresh < _txCount || _txq!.HasUsed;

    /// <inheritdoc/>
    protected override bool TryAcquireTxLocked(out int id, out int capacity)
    {
        capacity = Mtu;
        if (_txSpare.TryPop(out id)) return true;
        if (_txFresh < _txCount)
        {
            id = _txFresh++;
            return true;
        }
        if (_txq!.TryGetUsed(out UsedBuffer u))
        {
            id = u.Token;
            return true;
        }
        id = -1;
        return false;
    }

    /// <inheritdoc/>
    protected override Span<byte> TxSpan(int id) =>
        _bounce is not null ? _bounce.AsSpan((int)TxOffset(id), _options.TxBufferSize) : _pool.GetSpan(TxOffset(id), _options.TxBufferSize);

    private ulong TxOffset(int id) => _txBase + (ulong)id * (ulong)_options.TxBufferSize;

    private ulong RxOffset(int id) => (ulong)id * (ulong)_options.RxBufferSize;

    /// <inheritdoc/>
    protected override void SubmitTxLocked(int id, int totalLength)
    {
        if (_bounce is not null) _pool.Write(TxOffset(id), _bounce.AsSpan((int)TxOffset(id), totalLength));
        _txq!.TryAdd(new VirtqBuffer(_pool.DeviceAddress + TxOffset(id), (uint)totalLength), deviceWritable: false, id);
        if (_txq.KickPrepare()) _txNotifier.Notify();
    }

    /// <inheritdoc/>
    protected override void ReturnTxLocked(int id)
    {
        _txSpare.Push(id);
    }

    /// <inheritdoc/>
    protected override ReadOnlySpan<byte> RxSpan(int id) =>
        _bounce is not null ? _bounce.AsSpan((int)RxOffset(id), _options.RxBufferSize) : _pool.GetSpan(RxOffset(id), _options.RxBufferSize);

    /// <inheritdoc/>
    protected override void OnFailed(Exception reason)
    {
        try { _context.SetFailed(); }
        catch (Exception e) { Logger.LogError(e, "{Device}: could not set FAILED", Name); }
    }

    /// <inheritdoc/>
    /// <remarks>Resets the device, as Linux does when the driver is removed.</remarks>
    protected override void OnStopped()
    {
        try { _context.Reset(); }
        catch (Exception e) { Logger.LogError(e, "{Device}: could not reset the device status", Name); }
    }
}

using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Vring;
using Microsoft.Extensions.Logging;

namespace AmpCan.Rpmsg;

/// <summary>Buffer pool and behaviour of the host side of an rpmsg device.</summary>
public sealed record RpmsgHostOptions
{
    /// <summary>Receive buffers (posted to vq0 before DRIVER_OK); at most the ring size.</summary>
    public int RxBufferCount { get; init; } = 256;
    /// <summary>Bytes per receive buffer, header included.</summary>
    public int RxBufferSize { get; init; } = VirtioRpmsg.DefaultBufferSize;
    /// <summary>Transmit buffers; at most the ring size.</summary>
    public int TxBufferCount { get; init; } = 256;
    /// <summary>Bytes per transmit buffer, header included (MTU = size − 16).</summary>
    public int TxBufferSize { get; init; } = VirtioRpmsg.DefaultBufferSize;
    /// <summary>Blocking-send timeout (default 15 s, as Linux).</summary>
    public TimeSpan? SendTimeout { get; init; }
    /// <summary>Messages a queued endpoint keeps before dropping.</summary>
    public int EndpointQueueCapacity { get; init; } = 256;
    /// <summary>Received buffers handled per loop pass before other work gets a turn.</summary>
    public int RxBatch { get; init; } = 64;
    /// <summary>Features the host accepts when offered (NS, EVENT_IDX).</summary>
    public ulong SupportedFeatures { get; init; } = VirtioRingFeatures.Bit(VirtioRpmsg.FeatureNameService) | VirtioRingFeatures.Bit(VirtioRingFeatures.EventIndex);

    /// <summary>Bytes of shared memory the pool needs.</summary>
    public ulong PoolSize => (ulong)RxBufferCount * (ulong)RxBufferSize + (ulong)TxBufferCount * (ulong)TxBufferSize;
}

/// <summary>
/// The host (virtio driver) side of rpmsg, as Linux <c>virtio_rpmsg_bus.c</c>: a buffer pool in shared memory
/// (receive buffers first, transmit after), vq0 receives and vq1 transmits, all receive buffers posted before
/// DRIVER_OK and the first kick after it.
/// </summary>
public sealed class VirtioRpmsgHost : RpmsgBus
{
    private const int MaxBufferSize = RpmsgHeaderLimit + ushort.MaxValue;
    private const int RpmsgHeaderLimit = Wire.RpmsgHeader.Size;

    private readonly IVirtioConfig _config;
    private readonly SplitRing _rxRing, _txRing;
    private readonly IoRegion _pool;
    private readonly Doorbell _doorbell;
    private readonly uint _rxNotifyId, _txNotifyId;
    private readonly RpmsgHostOptions _options;
    private readonly ulong _txBase;
    private readonly Stack<int> _txSpare = new();
    private SplitVirtqueueDriver? _rxq, _txq;
    private int _txFresh;
    private readonly int _reclaimBelow;

    /// <summary>Creates the host side; nothing touches the device until <see cref="Start"/>.</summary>
    public VirtioRpmsgHost(string name, IVirtioConfig config, SplitRing rxRing, SplitRing txRing, IoRegion bufferPool, Doorbell doorbell,
        uint rxNotifyId, uint txNotifyId, RpmsgHostOptions? options = null, ILogger? logger = null)
        : base(name, (options ??= new RpmsgHostOptions()).TxBufferCount, options.RxBufferCount, options.SendTimeout, options.EndpointQueueCapacity, logger)
    {
        if (config.DeviceId != VirtioRpmsg.DeviceId)
            throw new ArgumentException($"{name}: virtio device id {config.DeviceId} is not rpmsg ({VirtioRpmsg.DeviceId})");
        Check(options.RxBufferCount, rxRing.QueueSize, options.RxBufferSize, "receive");
        Check(options.TxBufferCount, txRing.QueueSize, options.TxBufferSize, "transmit");
        if (bufferPool.Length < options.PoolSize)
            throw new ArgumentException($"{name}: buffer pool '{bufferPool.Name}' has {bufferPool.Length} bytes; {options.RxBufferCount}×{options.RxBufferSize} + {options.TxBufferCount}×{options.TxBufferSize} need {options.PoolSize}");
        _config = config;
        _rxRing = rxRing;
        _txRing = txRing;
        _pool = bufferPool;
        _doorbell = doorbell;
        _rxNotifyId = rxNotifyId;
        _txNotifyId = txNotifyId;
        _options = options;
        _txBase = (ulong)options.RxBufferCount * (ulong)options.RxBufferSize;
        _reclaimBelow = Math.Max(1, options.TxBufferCount / 4);

        void Check(int count, int ring, int size, string dir)
        {
            if (count < 1 || count > ring)
                throw new ArgumentOutOfRangeException(nameof(options), $"{name}: {count} {dir} buffers do not fit a ring of {ring} entries (1 to {ring})");
            if (size <= RpmsgHeaderLimit || size > MaxBufferSize)
                throw new ArgumentOutOfRangeException(nameof(options), $"{name}: {dir} buffer size {size} must be between {RpmsgHeaderLimit + 1} and {MaxBufferSize} bytes");
        }
    }

    /// <inheritdoc/>
    public override int Mtu => _options.TxBufferSize - Wire.RpmsgHeader.Size;

    /// <summary>Features the host accepted.</summary>
    public ulong NegotiatedFeatures { get; private set; }

    /// <summary>
    /// Negotiates features, resets both rings, posts every receive buffer, sets DRIVER_OK, kicks, and hands the
    /// receive and transmit work to <paramref name="loop"/>.
    /// </summary>
    public void Start(NotificationLoop loop)
    {
        if (_rxq is not null) throw new InvalidOperationException($"{Name} already started");
        _config.Status = VirtioStatus.Reset;
        _config.Status = VirtioStatus.Acknowledge | VirtioStatus.Driver;
        ulong features = _config.DeviceFeatures & _options.SupportedFeatures;
        _config.DriverFeatures = features;
        NegotiatedFeatures = features;
        bool eventIdx = VirtioRingFeatures.Has(features, VirtioRingFeatures.EventIndex);
        NameServiceEnabled = VirtioRingFeatures.Has(features, VirtioRpmsg.FeatureNameService);
        _rxq = new SplitVirtqueueDriver(_rxRing, eventIdx, clearRing: true);
        _txq = new SplitVirtqueueDriver(_txRing, eventIdx, clearRing: true);
        for (int i = 0; i < _options.RxBufferCount; i++) PostRx(i);
        _rxq.Publish();
        _txq.DisableCallbacks();
        _config.Status = VirtioStatus.Acknowledge | VirtioStatus.Driver | VirtioStatus.DriverOk;
        AttachToLoop(loop, _doorbell, _rxq, ProcessRx, _txq, ProcessTx);
        if (_rxq.KickPrepare()) _doorbell.Ring(_rxNotifyId);
        Logger.LogInformation("{Device}: DRIVER_OK, features 0x{Features:x}, {Rx}×{RxSize} receive and {Tx}×{TxSize} transmit buffers",
            Name, features, _options.RxBufferCount, _options.RxBufferSize, _options.TxBufferCount, _options.TxBufferSize);
        MarkReady();
    }

    private void PostRx(int id) =>
        _rxq!.TryAdd(new VirtqBuffer(_pool.DeviceAddress + (ulong)id * (ulong)_options.RxBufferSize, (uint)_options.RxBufferSize), deviceWritable: true, id);

    private bool ProcessRx()
    {
        if (State == RpmsgDeviceState.Failed) return false;
        int n = 0;
        try
        {
            while (TryTakeReleasedRx(out int released))
            {
                PostRx(released);
                n++;
            }
            while (n < _options.RxBatch && _rxq!.TryGetUsed(out UsedBuffer u))
            {
                if (!Deliver(RxSpan(u.Token)[..(int)u.Length], u.Token)) PostRx(u.Token);
                n++;
            }
            if (n > 0 && _rxq!.KickPrepare()) _doorbell.Ring(_rxNotifyId);
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
        bool did = FlushAnnouncements();
        // Reclaim transmit buffers the remote consumed here, between messages, so that a send does not have to read
        // the used ring on its own critical path; and only once the spares run low, in batches, because the remote
        // writes that ring on every message and reading it each pass would pull its cache line over every time.
        try
        {
            if (_txFresh == _options.TxBufferCount && _txSpare.Count < _reclaimBelow && _txq!.HasUsed)
                lock (TxLock) while (_txq.TryGetUsed(out UsedBuffer u)) _txSpare.Push(u.Token);
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
        lock (TxLock) return _txSpare.Count > 0 || _txFresh < _options.TxBufferCount || _txq!.HasUsed;
    }

    /// <inheritdoc/>
    protected override bool TryAcquireTxLocked(out int id, out int capacity)
    {
        capacity = Mtu;
        if (_txSpare.TryPop(out id)) return true;
        if (_txFresh < _options.TxBufferCount)
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
    protected override Span<byte> TxSpan(int id) => _pool.GetSpan(_txBase + (ulong)id * (ulong)_options.TxBufferSize, _options.TxBufferSize);

    /// <inheritdoc/>
    protected override void SubmitTxLocked(int id, int totalLength)
    {
        _txq!.TryAdd(new VirtqBuffer(_pool.DeviceAddress + _txBase + (ulong)id * (ulong)_options.TxBufferSize, (uint)totalLength), deviceWritable: false, id);
        if (_txq.KickPrepare()) _doorbell.Ring(_txNotifyId);
    }

    /// <inheritdoc/>
    protected override void ReturnTxLocked(int id)
    {
        _txSpare.Push(id);
    }

    /// <inheritdoc/>
    protected override ReadOnlySpan<byte> RxSpan(int id) => _pool.GetSpan((ulong)id * (ulong)_options.RxBufferSize, _options.RxBufferSize);




    /// <inheritdoc/>
    protected override void OnFailed(Exception reason)
    {
        try { _config.Status |= VirtioStatus.Failed; }
        catch (Exception e) { Logger.LogError(e, "{Device}: could not set FAILED", Name); }
    }

    /// <inheritdoc/>
    /// <remarks>Resets the device, as Linux does when the driver is removed.</remarks>
    protected override void OnStopped()
    {
        try { _config.Status = VirtioStatus.Reset; }
        catch (Exception e) { Logger.LogError(e, "{Device}: could not reset the device status", Name); }
    }
}

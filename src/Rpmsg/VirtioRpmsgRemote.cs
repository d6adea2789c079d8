using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Vring;
using Microsoft.Extensions.Logging;

namespace AmpCan.Rpmsg;

/// <summary>Behaviour of the remote side of an rpmsg device.</summary>
public sealed record RpmsgRemoteOptions
{
    /// <summary>Blocking-send timeout.</summary>
    public TimeSpan? SendTimeout { get; init; }
    /// <summary>Messages a queued endpoint keeps before dropping.</summary>
    public int EndpointQueueCapacity { get; init; } = 256;
    /// <summary>Received buffers handled per loop pass.</summary>
    public int RxBatch { get; init; } = 64;
    /// <summary>Size of the host's buffers, for <see cref="RpmsgBus.Mtu"/> before any buffer was seen (each send checks the real one).</summary>
    public int ExpectedBufferSize { get; init; } = VirtioRpmsg.DefaultBufferSize;
    /// <summary>How long a thread waiting for a reply polls the receive ring itself before it sleeps (not in doorbell mode).</summary>
    public TimeSpan ReplyPollBudget { get; init; } = TimeSpan.FromMicroseconds(200);
}

/// <summary>
/// The remote (virtio device) side of rpmsg, as OpenAMP's remote: waits for DRIVER_OK, then sends by filling the
/// host's receive buffers (vq0) and receives from the host's transmit buffers (vq1). Every buffer the host offers is
/// validated by <see cref="SplitVirtqueueDevice"/> before it is touched.
/// </summary>
public sealed class VirtioRpmsgRemote : RpmsgBus
{
    private const int MaxBuffer = Wire.RpmsgHeader.Size + ushort.MaxValue;
    private const int PrefetchedTxBuffers = 8;
    private const int PrefetchBelow = 2;

    private readonly IVirtioConfig _config;
    private readonly SplitRing _txRing, _rxRing;
    private readonly MemoryMap _memory;
    private readonly Doorbell _doorbell;
    private readonly uint _txNotifyId, _rxNotifyId;
    private readonly RpmsgRemoteOptions _options;
    private readonly Stack<int> _txSpare = new();
    private readonly BufferSegment[] _txSegments, _rxSegments;
    private SplitVirtqueueDevice? _txq, _rxq;

    /// <summary>
    /// Creates the remote side over the host's receive ring (vq0, which this side fills) and transmit ring (vq1,
    /// which this side drains).
    /// </summary>
    public VirtioRpmsgRemote(string name, IVirtioConfig config, SplitRing hostRxRing, SplitRing hostTxRing, MemoryMap memory, Doorbell doorbell,
        uint hostRxNotifyId, uint hostTxNotifyId, RpmsgRemoteOptions? options = null, ILogger? logger = null)
        : base(name, hostRxRing.QueueSize, hostTxRing.QueueSize, (options ??= new RpmsgRemoteOptions()).SendTimeout, options.EndpointQueueCapacity, logger)
    {
        _config = config;
        _txRing = hostRxRing;
        _rxRing = hostTxRing;
        _memory = memory;
        _doorbell = doorbell;
        _txNotifyId = hostRxNotifyId;
        _rxNotifyId = hostTxNotifyId;
        _options = options;
        _txSegments = new BufferSegment[hostRxRing.QueueSize];
        _rxSegments = new BufferSegment[hostTxRing.QueueSize];
        ReplyPollBudget = options.ReplyPollBudget;
    }

    /// <inheritdoc/>
    /// <remarks>The host's buffers decide: the size of the last one taken, or <see cref="RpmsgRemoteOptions.ExpectedBufferSize"/> before any.</remarks>
    public override int Mtu => (Volatile.Read(ref _hostBufferSize) is int seen and > 0 ? seen : _options.ExpectedBufferSize) - Wire.RpmsgHeader.Size;

    private int _hostBufferSize;

    /// <summary>Features in force (what the host accepted of what this device offers).</summary>
    public ulong NegotiatedFeatures { get; private set; }

    /// <summary>
    /// Waits for the host's DRIVER_OK (polling the status byte, as OpenAMP's remote does), attaches to both rings and
    /// hands the work to <paramref name="loop"/>, which owns the queues from then on. Returns false if DRIVER_OK did not
    /// come in time.
    /// </summary>
    public bool Start(NotificationLoop loop, TimeSpan waitForDriver, CancellationToken cancellation = default)
    {
        if (_rxq is not null) throw new InvalidOperationException($"{Name} already started");
        long deadline = Environment.TickCount64 + (long)waitForDriver.TotalMilliseconds;
        var spin = new SpinWait();
        while ((_config.Status & VirtioStatus.DriverOk) == 0)
        {
            if (Environment.TickCount64 > deadline || cancellation.IsCancellationRequested) return false;
            if (spin.Count < 100) spin.SpinOnce(sleep1Threshold: -1);
            else Thread.Sleep(1); // polling a status byte the host writes; there is no notification for it
        }
        ulong features = _config.DriverFeatures & _config.DeviceFeatures;
        NegotiatedFeatures = features;
        bool eventIdx = VirtioRingFeatures.Has(features, VirtioRingFeatures.EventIndex);
        bool indirect = VirtioRingFeatures.Has(features, VirtioRingFeatures.IndirectDescriptors);
        NameServiceEnabled = VirtioRingFeatures.Has(features, VirtioRpmsg.FeatureNameService);
        _txq = new SplitVirtqueueDevice(_txRing, _memory, eventIdx, indirect);
        _rxq = new SplitVirtqueueDevice(_rxRing, _memory, eventIdx, indirect);
        _txq.DisableNotifications();
        Logger.LogInformation("{Device}: host set DRIVER_OK, features 0x{Features:x}", Name, features);
        MarkReady();
        AttachToLoop(loop, _doorbell, _rxq, ProcessRx, _txq, ProcessTx);
        return true;
    }

    private bool ProcessRx()
    {
        if (State == RpmsgDeviceState.Failed) return false;
        int n = 0;
        try
        {
            // Used lengths of consumed host buffers are the length the driver posted, not 0 as the virtio spec has it for
            // device-readable buffers: OpenAMP's driver role reuses a used tx buffer with that length as its capacity
            // (a 0 there makes it send garbage), and Linux ignores the value.
            while (TryTakeReleasedRx(out int released))
            {
                _rxq!.AddUsed((ushort)released, _rxSegments[released].Length);
                n++;
            }
            while (n < _options.RxBatch && _rxq!.TryPop(out DescriptorChain chain))
            {
                n++;
                if (chain.ReadableCount == 0)
                {
                    Interlocked.Increment(ref Statistics.MalformedMessages);
                    _rxq.AddUsed(chain.Head, 0); // no readable buffer: nothing the driver could reuse
                    continue;
                }
                BufferSegment seg = chain.Readable[0];
                _rxSegments[chain.Head] = seg;
                if (!Deliver(View(seg), chain.Head)) _rxq.AddUsed(chain.Head, seg.Length);
            }
            if (n > 0 && _rxq!.PublishUsed()) _doorbell.Ring(_rxNotifyId);
        }
        catch (VirtqueueException e)
        {
            Fail(e);
        }
        return n > 0;
    }

    private static Span<byte> View(in BufferSegment s) => s.Region.GetSpan(s.Offset, (int)Math.Min(s.Length, MaxBuffer));

    private bool ProcessTx()
    {
        if (State == RpmsgDeviceState.Failed) return false;
        bool did = FlushPosted();
        // Take a few of the host's receive buffers ahead of need, between messages, so that a send does not have to
        // read the available ring and descriptors on its own critical path; in batches, because the host writes that
        // ring each time it re-posts a buffer and reading it every pass would pull its cache line over every time.
        if (_txSpare.Count < PrefetchBelow)
        {
            try
            {
                lock (TxLock)
                {
                    while (_txSpare.Count < PrefetchedTxBuffers && _txq!.TryPop(out DescriptorChain chain))
                        _txSpare.Push(TakeHostRxBuffer(chain));
                }
            }
            catch (Exception e) when (e is VirtqueueException or RpmsgException)
            {
                if (e is VirtqueueException) Fail(e);
                return false;
            }
        }
        if (TxWaiters > 0 && TxAvailable()) SignalTxAvailable();
        return did;
    }

    private bool TxAvailable()
    {
        lock (TxLock) return HasFreeTxLocked();
    }

    /// <inheritdoc/>
    protected override bool HasFreeTxLocked() => _txSpare.Count > 0 || _txq!.HasAvailable;

    /// <inheritdoc/>
    protected override bool TryAcquireTxLocked(out int id, out int capacity)
    {
        if (!_txSpare.TryPop(out id))
        {
            if (!_txq!.TryPop(out DescriptorChain chain))
            {
                id = -1;
                capacity = 0;
                return false;
            }
            id = TakeHostRxBuffer(chain);
        }
        capacity = (int)Math.Min(_txSegments[id].Length, MaxBuffer) - Wire.RpmsgHeader.Size;
        return true;
    }

    private int TakeHostRxBuffer(in DescriptorChain chain)
    {
        if (chain.Writable.Length == 0 || chain.Writable[0].Length <= Wire.RpmsgHeader.Size)
        {
            var e = new InvalidDataException($"{Name}: the host offered receive buffer {chain.Head} that is not device-writable or not longer than the rpmsg header");
            Fail(e);
            throw new RpmsgException(RpmsgError.DeviceFailed, e.Message);
        }
        _txSegments[chain.Head] = chain.Writable[0];
        Volatile.Write(ref _hostBufferSize, (int)Math.Min(chain.Writable[0].Length, MaxBuffer));
        return chain.Head;
    }

    /// <summary>
    /// Fault injection for simulators: fills the next host receive buffer with exactly <paramref name="bytes"/>
    /// (header included, however wrong) and reports <paramref name="usedLength"/> as written. False when no buffer is free.
    /// </summary>
    public bool InjectRaw(ReadOnlySpan<byte> bytes, uint usedLength)
    {
        lock (TxLock)
        {
            if (!TryAcquireTxLocked(out int id, out _)) return false;
            Span<byte> buf = TxSpan(id);
            bytes[..Math.Min(bytes.Length, buf.Length)].CopyTo(buf);
            _txq!.AddUsed((ushort)id, usedLength);
            if (_txq.PublishUsed()) _doorbell.Ring(_txNotifyId);
        }
        return true;
    }

    /// <inheritdoc/>
    protected override Span<byte> TxSpan(int id) => View(_txSegments[id]);

    /// <inheritdoc/>
    protected override void SubmitTxLocked(int id, int totalLength)
    {
        _txq!.AddUsed((ushort)id, (uint)totalLength);
        if (_txq.PublishUsed()) _doorbell.Ring(_txNotifyId);
    }

    /// <inheritdoc/>
    protected override void ReturnTxLocked(int id)
    {
        _txSpare.Push(id);
    }

    /// <inheritdoc/>
    protected override ReadOnlySpan<byte> RxSpan(int id) => View(_rxSegments[id]);

    /// <inheritdoc/>
    protected override void OnFailed(Exception reason)
    {
        try { _config.Status |= VirtioStatus.DeviceNeedsReset; }
        catch (Exception e) { Logger.LogError(e, "{Device}: could not set DEVICE_NEEDS_RESET", Name); }
    }
}

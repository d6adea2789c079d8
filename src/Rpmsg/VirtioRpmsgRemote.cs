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
/// The remote (virtio device) side of rpmsg, as OpenAMP's remote: once the host set DRIVER_OK, sends by filling the
/// host's receive buffers (vq0) and receives from the host's transmit buffers (vq1). Every buffer the host offers is
/// validated by <see cref="SplitVirtqueueDevice"/> before it is touched.
/// </summary>
public sealed class VirtioRpmsgRemote : RpmsgBus
{
    private const int MaxBuffer = Wire.RpmsgHeader.Size + ushort.MaxValue;
    private const int PrefetchedTxBuffers = 8;
    private const int PrefetchBelow = 2;

    private readonly VirtioDeviceContext _context;
    private readonly VirtqueueNotifier _txNotifier, _rxNotifier;
    private readonly RpmsgRemoteOptions _options;
    private readonly Stack<int> _txSpare = new();
    private readonly BufferSegment[] _txSegments, _rxSegments;
    // Host buffers in device memory: the image of each as this side sees it, by buffer id. Nobody gets a span into
    // device memory (a callback's vector loads would fault on Arm), so messages are copied word by word between the
    // buffer and its image; an image is allocated when its id is first seen with a buffer that size, not per message.
    private readonly byte[]?[] _txImages, _rxImages;
    private SplitVirtqueueDevice? _txq, _rxq;

    /// <summary>
    /// Creates the remote side over an activated device's queues: the host's receive ring (vq0, which this side fills)
    /// and transmit ring (vq1, which this side drains).
    /// </summary>
    /// <exception cref="RpmsgException"><see cref="RpmsgError.InvalidConfiguration"/>: fewer than two queues.</exception>
    public VirtioRpmsgRemote(string name, VirtioDeviceContext context, RpmsgRemoteOptions? options = null, ILogger? logger = null)
        : base(name, Queue(name, context, 0).QueueSize, Queue(name, context, 1).QueueSize, (options ??= new RpmsgRemoteOptions()).SendTimeout, options.EndpointQueueCapacity, logger)
    {
        _context = context;
        _txNotifier = context.Queues[0].Notifier;
        _rxNotifier = context.Queues[1].Notifier;
        _options = options;
        _txSegments = new BufferSegment[context.Queues[0].Ring.QueueSize];
        _rxSegments = new BufferSegment[context.Queues[1].Ring.QueueSize];
        _txImages = new byte[]?[_txSegments.Length];
        _rxImages = new byte[]?[_rxSegments.Length];
        ReplyPollBudget = options.ReplyPollBudget;
        NegotiatedFeatures = context.Features;
        NameServiceEnabled = context.Has(VirtioRpmsg.FeatureNameService);
    }

    private static SplitRing Queue(string name, VirtioDeviceContext context, int index) =>
        index < context.Queues.Count ? context.Queues[index].Ring
            : throw new RpmsgException(RpmsgError.InvalidConfiguration, $"{name}: an rpmsg device has two queues; this one has {context.Queues.Count}");

    /// <inheritdoc/>
    /// <remarks>The host's buffers decide: the size of the last one taken, or <see cref="RpmsgRemoteOptions.ExpectedBufferSize"/> before any.</remarks>
    public override int Mtu => (Volatile.Read(ref _hostBufferSize) is int seen and > 0 ? seen : _options.ExpectedBufferSize) - Wire.RpmsgHeader.Size;

    private int _hostBufferSize;

    /// <summary>Features in force (what the host accepted of what this device offers).</summary>
    public ulong NegotiatedFeatures { get; }

    /// <summary>
    /// Attaches to both rings (the host has set DRIVER_OK) and hands the work to the context's loop, which owns the
    /// queues from then on.
    /// </summary>
    public void Start()
    {
        if (_rxq is not null) throw new InvalidOperationException($"{Name} already started");
        _txq = _context.CreateQueue(0);
        _rxq = _context.CreateQueue(1);
        _txq.DisableNotifications();
        Logger.LogInformation("{Device}: host set DRIVER_OK, features 0x{Features:x}", Name, NegotiatedFeatures);
        MarkReady();
        AttachToLoop(_context.Loop, _context.Incoming, _rxq, ProcessRx, _txq, ProcessTx);
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
                if (!Deliver(Received(chain.Head, seg), chain.Head)) _rxq.AddUsed(chain.Head, seg.Length);
            }
            if (n > 0 && _rxq!.PublishUsed()) _rxNotifier.Notify();
        }
        catch (VirtqueueException e)
        {
            Fail(e);
        }
        return n > 0;
    }

    private static int Usable(in BufferSegment s) => (int)Math.Min(s.Length, MaxBuffer);

    private static Span<byte> View(in BufferSegment s) => s.Region.GetSpan(s.Offset, Usable(s));

    private static Span<byte> Image(byte[]?[] images, int id, in BufferSegment s)
    {
        int length = Usable(s);
        byte[] image = images[id] is { } have && have.Length >= length ? have : images[id] = new byte[length];
        return image.AsSpan(0, length);
    }

    // What the host sent in buffer id: the buffer itself in ordinary memory; in device memory a copy of the header and
    // of as many bytes as it claims (not the whole buffer: uncached reads are slow), which Deliver validates as ever.
    private ReadOnlySpan<byte> Received(int id, in BufferSegment s)
    {
        if (!s.IsDeviceMemory) return View(s);
        Span<byte> image = Image(_rxImages, id, s);
        if (image.Length < Wire.RpmsgHeader.Size) return image[..0]; // Deliver counts it malformed
        s.Read(0, image[..Wire.RpmsgHeader.Size]);
        int length = Math.Min(image.Length, Wire.RpmsgHeader.Size + Wire.RpmsgHeader.Read(image).Length);
        s.Read(Wire.RpmsgHeader.Size, image[Wire.RpmsgHeader.Size..length]);
        return image[..length];
    }

    // Device memory: the message written into buffer id's image goes to the buffer itself.
    private void CopyOut(int id, int length)
    {
        BufferSegment s = _txSegments[id];
        if (s.IsDeviceMemory) s.Write(0, _txImages[id].AsSpan(0, length));
    }

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
        if (chain.Writable[0].IsDeviceMemory) Image(_txImages, chain.Head, chain.Writable[0]);
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
            int n = Math.Min(bytes.Length, buf.Length);
            bytes[..n].CopyTo(buf);
            CopyOut(id, n);
            _txq!.AddUsed((ushort)id, usedLength);
            if (_txq.PublishUsed()) _txNotifier.Notify();
        }
        return true;
    }

    /// <inheritdoc/>
    protected override Span<byte> TxSpan(int id) =>
        _txSegments[id].IsDeviceMemory ? Image(_txImages, id, _txSegments[id]) : View(_txSegments[id]);

    /// <inheritdoc/>
    protected override void SubmitTxLocked(int id, int totalLength)
    {
        CopyOut(id, totalLength);
        _txq!.AddUsed((ushort)id, (uint)totalLength);
        if (_txq.PublishUsed()) _txNotifier.Notify();
    }

    /// <inheritdoc/>
    protected override void ReturnTxLocked(int id)
    {
        _txSpare.Push(id);
    }

    /// <inheritdoc/>
    protected override ReadOnlySpan<byte> RxSpan(int id) =>
        _rxSegments[id].IsDeviceMemory ? Image(_rxImages, id, _rxSegments[id]) : View(_rxSegments[id]);

    /// <inheritdoc/>
    protected override void OnFailed(Exception reason)
    {
        try { _context.SignalNeedsReset(); }
        catch (Exception e) { Logger.LogError(e, "{Device}: could not set DEVICE_NEEDS_RESET", Name); }
    }
}

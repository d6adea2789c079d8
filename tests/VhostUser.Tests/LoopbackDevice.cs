using AmpCan.SharedMem.Doorbells;
using AmpCan.Vring;

namespace AmpCan.Tests.VhostUser;

/// <summary>
/// A two-queue test device: every buffer the driver sends on queue 1 is copied into a writable buffer the driver posted
/// on queue 0 (a chain of queue 1 is popped only when queue 0 has one to receive it, so the device holds nothing).
/// </summary>
internal sealed class LoopbackDevice(ulong features = 1UL << VirtioRingFeatures.IndirectDescriptors, int configLength = 8) : IVirtioDevice
{
    private readonly byte[] _config = [.. Enumerable.Range(0xA0, Math.Max(configLength, 0)).Select(i => (byte)i)];
    private Handler? _handler;
    private NotificationLoop? _loop;
    private int _activations, _resets;

    public uint DeviceId => 42;
    public ulong DeviceFeatures => features;
    public int QueueCount => 2;
    public int MaxQueueSize => 256;
    public int ConfigLength => configLength;
    public int Activations => Volatile.Read(ref _activations);
    public int Resets => Volatile.Read(ref _resets);
    public bool IsActive => Volatile.Read(ref _handler) is not null;
    public ulong LastFeatures { get; private set; }
    public IReadOnlyList<DeviceQueueState> LastStates { get; private set; } = [];
    /// <summary>While set, chains sent on queue 1 are taken and kept, not answered (a device holding buffers, as rpmsg does).</summary>
    public bool Hold { get => Volatile.Read(ref _hold); set => Volatile.Write(ref _hold, value); }
    private bool _hold;
    /// <summary>Chains taken and kept while <see cref="Hold"/> was set.</summary>
    public int Held => Volatile.Read(ref _held);
    private int _held;

    public void ReadConfig(int offset, Span<byte> destination) => _config.AsSpan(offset, destination.Length).CopyTo(destination);

    public void WriteConfig(int offset, ReadOnlySpan<byte> source) => source.CopyTo(_config.AsSpan(offset));

    private VirtioDeviceContext? _context;

    /// <summary>Writes the config space as the device would (a status change) and has the transport tell the driver; what the transport answered.</summary>
    public bool ChangeConfig(ReadOnlySpan<byte> config)
    {
        config.CopyTo(_config);
        return _context?.SignalConfigChanged() ?? false;
    }

    public void Activate(VirtioDeviceContext context)
    {
        _context = context;
        if (_handler is not null) throw new InvalidOperationException("activated twice");
        LastFeatures = context.Features;
        LastStates = [.. context.Queues.Select(q => q.DeviceState ?? default)];
        var h = new Handler(this, context.CreateQueue(0), context.CreateQueue(1), context.Queues[0].Notifier, context.Queues[1].Notifier);
        _loop = context.Loop;
        Volatile.Write(ref _handler, h);
        Interlocked.Increment(ref _activations);
        context.Loop.Add(h, context.Incoming);
    }

    public void Reset()
    {
        Handler? h = Interlocked.Exchange(ref _handler, null);
        if (h is null) return;
        _loop!.RemoveAndWait(h);
        Interlocked.Increment(ref _resets);
    }

    private sealed class Handler(LoopbackDevice device, SplitVirtqueueDevice rx, SplitVirtqueueDevice tx, VirtqueueNotifier rxNotify, VirtqueueNotifier txNotify) : INotificationHandler
    {
        public bool Process()
        {
            bool did = false;
            while (tx.HasAvailable)
            {
                // Read after the chain was seen: a test sets Hold before it makes the chains available.
                if (device.Hold)
                {
                    tx.TryPop(out _);
                    Interlocked.Increment(ref device._held);
                    did = true;
                    continue;
                }
                if (!rx.HasAvailable) break;
                tx.TryPop(out DescriptorChain from);
                rx.TryPop(out DescriptorChain to);
                uint copied = 0;
                foreach (BufferSegment s in from.Readable)
                {
                    Span<byte> src = s.Span;
                    foreach (BufferSegment d in to.Writable)
                    {
                        int n = (int)Math.Min((uint)src.Length, d.Length);
                        src[..n].CopyTo(d.Span);
                        copied += (uint)n;
                        break; // the tests post one writable buffer per chain
                    }
                }
                rx.AddUsed(to.Head, copied);
                tx.AddUsed(from.Head, 0);
                did = true;
            }
            if (did)
            {
                if (rx.PublishUsed()) rxNotify.Notify();
                if (tx.PublishUsed()) txNotify.Notify();
            }
            return did;
        }

        public bool ArmNotifications() => rx.EnableNotifications() | tx.EnableNotifications();

        public void DisarmNotifications()
        {
            rx.DisableNotifications();
            tx.DisableNotifications();
        }
    }
}

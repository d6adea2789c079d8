using System.Collections.Concurrent;
using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;

namespace AmpCan.Tests.VirtioCan;

/// <summary>
/// A bus whose confirmations the test hands out: what the device sends is recorded, and its echo comes back only when
/// the test releases it (or never, for a frame the bus "lost"), as a controller that has not yet won arbitration.
/// </summary>
internal sealed class HeldEchoPort(int maxUnconfirmed = 64) : ICanPort
{
    private readonly ConcurrentQueue<CanFrame> _queue = new();
    private readonly List<CanFrame> _sent = [];

    public string Name => "held";
    public Action? FrameArrived { get; set; }
    public bool ConfirmsTransmits { get; set; }
    public int MaxUnconfirmed => maxUnconfirmed;
    public int Pending => _queue.Count;
    public long Dropped => 0;

    public int SentCount
    {
        get { lock (_sent) return _sent.Count; }
    }

    public CanFrame SentFrame(int i)
    {
        lock (_sent) return _sent[i];
    }

    public CanSendResult Send(in CanFrame frame)
    {
        lock (_sent) _sent.Add(frame);
        return CanSendResult.Sent;
    }

    /// <summary>The bus carried sent frame <paramref name="i"/>: its echo reaches the device.</summary>
    public void Confirm(int i)
    {
        CanFrame echo = SentFrame(i);
        echo.Kind |= CanFrameKind.Echo;
        Deliver(echo);
    }

    /// <summary>A frame (another member's, an error frame) reaches the device.</summary>
    public void Deliver(CanFrame frame)
    {
        _queue.Enqueue(frame);
        FrameArrived?.Invoke();
    }

    public bool TryReceive(out CanFrame frame) => _queue.TryDequeue(out frame);
    public bool TryPeek(out CanFrame frame) => _queue.TryPeek(out frame);
    public void Dispose() { }
}

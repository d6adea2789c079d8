using AmpCan.Host.Peers;
using AmpCan.Rpmsg;
using AmpCan.SharedMem.Doorbells;

namespace AmpCan.Host.Bench;

/// <summary>
/// Host side of the pipelined rpmsg benchmark, run on the host loop: sends numbered payloads while transmit buffers
/// are free and keeps the <see cref="Digest"/> of what it sent. When none is free it is blocked, and asks
/// <paramref name="space"/> to wake its loop when one frees before the loop parks.
/// </summary>
internal sealed class RpmsgStreamSender(int payload, CaseFaults faults, ITransmitSpaceSignal space) : INotificationHandler
{
    private const int Batch = 256; // sends per pass, so the loop still serves the device's rings between batches
    private readonly SequencedPayloads _payloads = new(payload);
    private readonly ManualResetEventSlim _done = new();
    private long _left;
    private ulong _seq;
    private bool _blocked;
    private StreamDigest _digest;
    private volatile bool _running;

    /// <summary>The host endpoint bound to the remote's sink.</summary>
    public RpmsgEndpoint Endpoint = null!;

    /// <summary>Messages sent over every run.</summary>
    public long Sent => _digest.Payloads;

    /// <summary>What every run so far sent (read between runs).</summary>
    public StreamDigest Digest => _digest;

    /// <summary>Sends <paramref name="n"/> messages from <paramref name="loop"/>'s thread; returns when the last is handed to the ring.</summary>
    public void Run(NotificationLoop loop, long n)
    {
        _done.Reset();
        _left = n;
        _running = true;
        loop.Wake();
        faults.Wait(_done, TimeSpan.FromMinutes(5), () => $"sender stalled with {_left} of {n} left");
    }

    public bool Process()
    {
        if (!_running) return false;
        int sent = 0;
        StreamDigest digest = _digest;
        while (_left > 0 && sent < Batch)
        {
            ulong seq = _seq + 1;
            if (!Endpoint.TrySend(_payloads.Stamp(seq)))
            {
                _blocked = true;
                break;
            }
            if (_blocked)
            {
                _blocked = false;
                space.Disarm(); // sending again: no need to be woken for buffers (the loop may never call Disarm in doorbell mode)
            }
            _seq = seq;
            digest = digest.Add(_payloads.Checksum(seq), _payloads.Length);
            _left--;
            sent++;
        }
        _digest = digest;
        if (_left == 0)
        {
            _running = false;
            space.Disarm();
            _done.Set();
        }
        return sent > 0;
    }

    // Called only when no handler of the loop did anything: either nothing is left to send, or no transmit buffer was free.
    public bool ArmNotifications() => _running && (!_blocked || space.Arm());

    public void DisarmNotifications() => space.Disarm();
}

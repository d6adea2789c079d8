using AmpCan.SharedMem.Doorbells;
using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;

namespace AmpCan.Host.Bench;

/// <summary>
/// The sending end of a CAN stream through the virtio-can driver, run on the driver's loop: sends numbered frames
/// while the driver has a free transmit slot. When none is free it is blocked, and lets the loop park: the device's
/// answers, which free the slots, wake the loop.
/// </summary>
/// <remarks>
/// It runs on the driver's loop, not on a thread of its own, because the machine the figures are taken on has two
/// cores, both taken by the pinned driver and device loops; a third spinning thread would measure the scheduler.
/// </remarks>
internal sealed class CanStreamSender(ICanPort port, NotificationLoop loop, CanBenchFrames frames, CaseFaults faults) : INotificationHandler
{
    private const int Batch = 256; // sends per pass at most, so the loop serves the rings between batches
    private readonly ManualResetEventSlim _done = new();
    private long _left;
    private ulong _seq;
    private bool _blocked;
    private CanFrame _frame;
    private volatile bool _running;

    /// <summary>Frames sent over every run.</summary>
    public long Sent => (long)Volatile.Read(ref _seq);

    /// <summary>Sends <paramref name="n"/> frames from the loop's thread; returns when the last was handed to the driver.</summary>
    public void Run(long n)
    {
        _done.Reset();
        _left = n;
        _running = true;
        loop.Wake();
        faults.Wait(_done, TimeSpan.FromMinutes(5), () => $"sender stalled with {_left} of {n} frames left");
    }

    public bool Process()
    {
        if (!_running) return false;
        _blocked = false;
        int sent = 0;
        ulong seq = _seq;
        while (_left > 0 && sent < Batch)
        {
            frames.Fill(ref _frame, seq + 1);
            CanSendResult r = port.Send(_frame);
            if (r == CanSendResult.Busy)
            {
                _blocked = true;
                break;
            }
            if (r != CanSendResult.Sent)
            {
                faults.Report($"stream sender on {port.Name}", new BenchmarkFailedException($"the port answered a send {r}"));
                _running = false;
                break;
            }
            seq++;
            _left--;
            sent++;
        }
        Volatile.Write(ref _seq, seq);
        if (_left == 0 && _running)
        {
            _running = false;
            _done.Set();
        }
        return sent > 0;
    }

    // Called only when no handler did anything: nothing left to send, or every transmit slot awaits its answer.
    public bool ArmNotifications() => _running && !_blocked;

    public void DisarmNotifications() { }
}

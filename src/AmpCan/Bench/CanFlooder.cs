using AmpCan.SharedMem.Doorbells;
using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;

namespace AmpCan.Host.Bench;

/// <summary>
/// A bus member flooding numbered frames towards the virtio-can driver, on the device's loop, at most
/// <paramref name="window"/> ahead of what the driver's reader has taken: a bus has no flow control, so without the
/// window the first full queue on the way would drop frames and the figure would be a loss rate, not a throughput. The
/// window is below every queue on the way (the device's port, the driver's receive buffers and receive queue).
/// </summary>
internal sealed class CanFlooder(ICanPort port, NotificationLoop loop, CanBenchFrames frames, CaseFaults faults, int window) : LoopCanMember(port, loop)
{
    private readonly ManualResetEventSlim _done = new();
    private long _left;
    private long _sent;
    private CanFrame _frame;
    private volatile bool _running;

    /// <summary>The reader's count of frames taken (set before the first run).</summary>
    public Func<long> Taken { get; set; } = () => 0;

    /// <summary>Frames sent over every run.</summary>
    public long Sent => Volatile.Read(ref _sent);

    /// <summary>Floods <paramref name="n"/> frames from the loop's thread; returns when the last is on the bus.</summary>
    public void Run(long n)
    {
        _done.Reset();
        _left = n;
        _running = true;
        Loop.Wake();
        faults.Wait(_done, TimeSpan.FromMinutes(5), () => $"flooder stalled with {_left} of {n} frames left, {Taken()} of {Sent} taken");
    }

    protected override bool HasWork => _running && _sent - Taken() < window;

    protected override bool Work()
    {
        if (!_running) return false;
        long sent = _sent;
        long limit = Taken() + window;
        while (_left > 0 && sent < limit)
        {
            frames.Fill(ref _frame, (ulong)sent + 1);
            CanSendResult r = Port.Send(_frame);
            if (r != CanSendResult.Sent)
            {
                faults.Report($"flooder on {Port.Name}", new BenchmarkFailedException($"the bus answered a send {r}"));
                _running = false;
                break;
            }
            sent++;
            _left--;
        }
        bool did = sent != _sent;
        Volatile.Write(ref _sent, sent);
        if (_left == 0 && _running)
        {
            _running = false;
            _done.Set();
        }
        return did;
    }
}

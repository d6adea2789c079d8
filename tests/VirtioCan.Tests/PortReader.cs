using System.Diagnostics;
using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;

namespace AmpCan.Tests.VirtioCan;

/// <summary>
/// The test's taker on a port: woken by its FrameArrived, takes what waits and notes when (Stopwatch ticks since the
/// reader was made, as taken, so never earlier than the frame arrived).
/// </summary>
internal sealed class PortReader : IDisposable
{
    private readonly ICanPort _port;
    private readonly AutoResetEvent _arrived = new(false);
    private readonly long _start;

    public PortReader(ICanPort port, long? start = null)
    {
        _port = port;
        _start = start ?? Stopwatch.GetTimestamp();
        port.FrameArrived = () => _arrived.Set();
    }

    public List<CanFrame> Frames { get; } = [];

    public List<TimeSpan> TakenAt { get; } = [];

    /// <summary>Takes frames until <paramref name="count"/> have been taken in all, or fails the test after <paramref name="timeout"/>.</summary>
    public void TakeUntil(int count, TimeSpan timeout)
    {
        var limit = Stopwatch.StartNew();
        while (true)
        {
            TakeWaiting();
            if (Frames.Count >= count) return;
            TimeSpan left = timeout - limit.Elapsed;
            if (left <= TimeSpan.Zero || !_arrived.WaitOne(left))
            {
                TakeWaiting();
                if (Frames.Count >= count) return;
                Assert.Fail($"{_port.Name}: {Frames.Count} of {count} frames within {timeout}");
            }
        }
    }

    /// <summary>Takes what waits now.</summary>
    public void TakeWaiting()
    {
        while (_port.TryReceive(out CanFrame f))
        {
            Frames.Add(f);
            TakenAt.Add(Stopwatch.GetElapsedTime(_start));
        }
    }

    /// <summary>Waits for the next wake-up (true) or the timeout (false).</summary>
    public bool WaitArrival(TimeSpan timeout) => _arrived.WaitOne(timeout);

    public void Dispose()
    {
        _port.FrameArrived = null;
        _arrived.Dispose();
    }
}

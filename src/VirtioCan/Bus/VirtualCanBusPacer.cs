using System.Diagnostics;
using AmpCan.SharedMem.Diagnostics;
using Microsoft.Extensions.Logging;

namespace AmpCan.VirtioCan.Bus;

/// <summary>
/// A paced <see cref="VirtualCanBus"/>'s wire: frames wait in one bounded transmit queue, in send order, and one thread
/// carries each to the members once its time on the wire (<see cref="CanWireTime"/>) has passed after the previous
/// frame's, or after it was sent when the wire was idle.
/// </summary>
/// <remarks>
/// The thread sleeps until the next frame is due, or without a timeout while the queue is empty. Its waits have the
/// operating system's millisecond resolution: no frame arrives early, and the frames whose time has come are carried
/// together, so members see up to a millisecond's worth at once while the rate over time is the wire's.
/// </remarks>
internal sealed class VirtualCanBusPacer : IDisposable
{
    private struct QueuedFrame
    {
        public CanFrame Frame;
        public VirtualCanPort From;
        public long QueuedAt; // Stopwatch ticks
        public long WireTicks;
    }

    private static readonly long TicksPerMillisecond = Stopwatch.Frequency / 1000;

    private readonly VirtualCanBus _bus;
    private readonly int _bitrate, _dataBitrate;
    private readonly ILogger _logger;
    private readonly RateLimitedLog _errors = new();
    private readonly Lock _gate = new();
    private readonly QueuedFrame[] _queue; // under _gate
    private int _head, _count;
    private long _wireFreeAt; // when the last frame carried left the wire; only the pacer's thread uses it
    private volatile bool _stopping;
    private readonly AutoResetEvent _wake = new(false);
    private readonly Thread _thread;

    internal VirtualCanBusPacer(VirtualCanBus bus, int bitrate, int dataBitrate, int transmitQueue, ILogger logger)
    {
        _bus = bus;
        _bitrate = bitrate;
        _dataBitrate = dataBitrate;
        _logger = logger;
        _queue = new QueuedFrame[transmitQueue];
        _thread = new Thread(Run) { IsBackground = true, Name = $"can pacer {bus.Name}" };
        _thread.Start();
    }

    /// <summary>Frames waiting for the wire (the one on it included).</summary>
    internal int Waiting
    {
        get { lock (_gate) return _count; }
    }

    /// <summary>Queues a frame for the wire: <see cref="CanSendResult.Busy"/> when the queue is full, <see cref="CanSendResult.Down"/> once stopped.</summary>
    internal CanSendResult Queue(VirtualCanPort from, in CanFrame frame)
    {
        long wireTicks = ToStopwatchTicks(CanWireTime.Nanoseconds(frame, _bitrate, _dataBitrate));
        long now = Stopwatch.GetTimestamp();
        bool wasEmpty;
        lock (_gate)
        {
            if (_stopping) return CanSendResult.Down;
            if (_count == _queue.Length) return CanSendResult.Busy;
            ref QueuedFrame slot = ref _queue[(_head + _count) % _queue.Length];
            slot.Frame = frame;
            slot.From = from;
            slot.QueuedAt = now;
            slot.WireTicks = wireTicks;
            wasEmpty = _count++ == 0;
        }
        // A queue that was not empty has the pacer carrying or timed for its head already; frames behind it wait their turn.
        if (wasEmpty) _wake.Set();
        return CanSendResult.Sent;
    }

    private void Run()
    {
        while (!_stopping)
        {
            try
            {
                int waitMs = CarryDueFrames();
                if (waitMs != 0) _wake.WaitOne(waitMs);
            }
            catch (Exception e)
            {
                // Nothing here may end the process; a fault that repeats costs a log line now and then, not a spinning core.
                if (_errors.ShouldLog(out long suppressed))
                    _logger.LogError(e, "CAN bus {Bus}: pacer fault{Suppressed}", _bus.Name, RateLimitedLog.Note(suppressed));
                _wake.WaitOne(100);
            }
        }
    }

    // Carries every frame whose time has come, then wakes the members once; returns the milliseconds until the next
    // frame is due (rounded up), or Timeout.Infinite when none waits.
    private int CarryDueFrames()
    {
        int wait = Timeout.Infinite;
        bool carried = false;
        try
        {
            long now = Stopwatch.GetTimestamp();
            while (!_stopping)
            {
                CanFrame frame;
                VirtualCanPort from;
                lock (_gate)
                {
                    if (_count == 0) break;
                    ref QueuedFrame head = ref _queue[_head];
                    long due = Math.Max(head.QueuedAt, _wireFreeAt) + head.WireTicks;
                    if (due > now) now = Stopwatch.GetTimestamp();
                    if (due > now)
                    {
                        wait = (int)Math.Min(int.MaxValue, (due - now + TicksPerMillisecond - 1) / TicksPerMillisecond);
                        break;
                    }
                    frame = head.Frame;
                    from = head.From;
                    head.From = null!; // a detached port is not kept alive by a queue slot
                    _head = (_head + 1) % _queue.Length;
                    _count--;
                    _wireFreeAt = due;
                }
                _bus.Carry(from, frame);
                carried = true;
            }
        }
        finally
        {
            if (carried) WakeMembers();
        }
        return wait;
    }

    private void WakeMembers()
    {
        foreach (VirtualCanPort p in _bus.Members)
        {
            try
            {
                p.WakeIfQueued();
            }
            catch (Exception e)
            {
                if (_errors.ShouldLog(out long suppressed))
                    _logger.LogError(e, "CAN bus {Bus}: waking member {Port} failed{Suppressed}", _bus.Name, p.Name, RateLimitedLog.Note(suppressed));
            }
        }
    }

    private static long ToStopwatchTicks(long nanoseconds) =>
        Stopwatch.Frequency == 1_000_000_000 ? nanoseconds : (long)Math.Ceiling(nanoseconds * (Stopwatch.Frequency / 1e9));

    /// <summary>Stops the thread; frames still waiting for the wire are not carried (as on an interface taken down).</summary>
    public void Dispose()
    {
        lock (_gate) _stopping = true;
        _wake.Set();
        if (Thread.CurrentThread == _thread) return; // disposed from a member's wake-up: the loop ends when it returns
        _thread.Join();
        _wake.Dispose();
    }
}

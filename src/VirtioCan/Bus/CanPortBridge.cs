using AmpCan.SharedMem.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AmpCan.VirtioCan.Bus;

/// <summary>
/// Joins two CAN ports both ways: every frame one port receives from its bus is sent on the other (the in-process bus
/// onto a SocketCAN interface, a virtio-can driver onto a vcan). Echoes of the bridge's own frames stay where they are;
/// so do error frames, unless the bridge is told that B is A's face (a vcan standing for a remote's controller), where
/// A's bus-off is news for candump -e on B. A frame the far side answers <see cref="CanSendResult.Busy"/> is held and retried, in order, while the
/// near side's queue takes the backlog; one answered <see cref="CanSendResult.Down"/> is dropped and counted.
/// </summary>
/// <remarks>
/// One thread serves both directions; it sleeps until either port's <see cref="ICanPort.FrameArrived"/> (the bridge
/// takes both), and only while a frame is held does it wake on its own, every millisecond, to retry (a port has no
/// signal for room in its transmit queue). The bridge owns both ports and disposes them; it does not own the log,
/// where each frame that crossed is written under the name of the port it came from, as candump on that interface
/// would have shown it. Two bridges must not close a loop.
/// </remarks>
public sealed class CanPortBridge : IDisposable
{
    private const int RetryMilliseconds = 1;
    private const int FaultPauseMilliseconds = 100;
    private const int PassLimit = 256; // frames one way per pass, so that the other way gets its turn

    private enum PassEnd { Idle, More, Held }

    private sealed class Direction(ICanPort from, ICanPort to, bool forwardsErrors)
    {
        public readonly ICanPort From = from, To = to;
        public readonly bool ForwardsErrors = forwardsErrors;
        public CanFrame Held;
        public bool Holding;
        public long Crossed;
    }

    private readonly Direction _aToB, _bToA;
    private readonly CandumpLog? _log;
    private readonly ILogger _logger;
    private readonly RateLimitedLog _faults = new(), _downs = new();
    private readonly WakeSignal _wake = new();
    private readonly Thread _thread;
    private volatile bool _stopping;
    private int _disposed;
    private long _dropped;

    /// <summary>
    /// Bridges <paramref name="a"/> and <paramref name="b"/>, logging what crosses into <paramref name="log"/> if given;
    /// with <paramref name="errorFramesFromA"/>, A's error frames cross to B too (never B's to A: B is not a controller A has).
    /// </summary>
    /// <exception cref="ArgumentException">A log is given and a port's name cannot label a candump line (<see cref="CandumpLog.CheckInterfaceName"/>).</exception>
    public CanPortBridge(ICanPort a, ICanPort b, CandumpLog? log = null, ILogger? logger = null, bool errorFramesFromA = false)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (ReferenceEquals(a, b)) throw new ArgumentException($"a bridge joins two ports; {a.Name} was given twice", nameof(b));
        if (log is not null)
        {
            CandumpLog.CheckInterfaceName(a.Name);
            CandumpLog.CheckInterfaceName(b.Name);
        }
        _aToB = new Direction(a, b, errorFramesFromA);
        _bToA = new Direction(b, a, forwardsErrors: false);
        _log = log;
        _logger = logger ?? NullLogger.Instance;
        a.FrameArrived = _wake.Signal;
        b.FrameArrived = _wake.Signal;
        _thread = new Thread(Run) { IsBackground = true, Name = $"can bridge {a.Name}-{b.Name}" };
        _thread.Start();
    }

    /// <summary>The first port.</summary>
    public ICanPort A => _aToB.From;

    /// <summary>The second port.</summary>
    public ICanPort B => _bToA.From;

    /// <summary>Frames received on <see cref="A"/> and sent on <see cref="B"/>.</summary>
    public long CrossedAToB => Interlocked.Read(ref _aToB.Crossed);

    /// <summary>Frames received on <see cref="B"/> and sent on <see cref="A"/>.</summary>
    public long CrossedBToA => Interlocked.Read(ref _bToA.Crossed);

    /// <summary>Frames that did not cross: the far side was down, its send failed, or the bridge stopped while holding them.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    private void Run()
    {
        while (!_stopping)
        {
            int wait;
            try
            {
                _wake.Rearm();
                PassEnd ab = Pass(_aToB), ba = Pass(_bToA);
                if (ab == PassEnd.More || ba == PassEnd.More) continue;
                wait = ab == PassEnd.Held || ba == PassEnd.Held ? RetryMilliseconds : Timeout.Infinite;
            }
            catch (Exception e)
            {
                // Nothing here may end the process; a port that keeps failing costs a log line now and then, not a spinning core.
                if (_faults.ShouldLog(out long suppressed))
                    _logger.LogError(e, "CAN bridge {A}-{B}: fault{Suppressed}", A.Name, B.Name, RateLimitedLog.Note(suppressed));
                wait = FaultPauseMilliseconds;
            }
            _wake.Wait(wait);
        }
    }

    // Moves frames one way until none waits (Idle), the far side is busy (Held) or the pass is long enough (More).
    private PassEnd Pass(Direction d)
    {
        for (int n = 0; n < PassLimit && !_stopping; n++)
        {
            if (!d.Holding)
            {
                if (!d.From.TryReceive(out d.Held)) return PassEnd.Idle;
                if (d.Held.IsEcho || (d.Held.IsError && !d.ForwardsErrors)) continue;
                d.Holding = true;
            }
            CanSendResult result;
            try
            {
                result = d.To.Send(d.Held);
            }
            catch (Exception e)
            {
                // A frame the far side throws on is dropped, so that it cannot stop everything behind it.
                d.Holding = false;
                Interlocked.Increment(ref _dropped);
                if (_faults.ShouldLog(out long suppressed))
                    _logger.LogError(e, "CAN bridge: sending on {To} failed; the frame from {From} is dropped{Suppressed}", d.To.Name, d.From.Name, RateLimitedLog.Note(suppressed));
                continue;
            }
            if (result == CanSendResult.Busy) return PassEnd.Held;
            d.Holding = false;
            if (result == CanSendResult.Sent)
            {
                Interlocked.Increment(ref d.Crossed);
                _log?.Record(d.From.Name, d.Held);
            }
            else
            {
                Interlocked.Increment(ref _dropped);
                if (_downs.ShouldLog(out long suppressed))
                    _logger.LogWarning("CAN bridge: {To} is down; frames from {From} are dropped{Suppressed}", d.To.Name, d.From.Name, RateLimitedLog.Note(suppressed));
            }
        }
        return _stopping ? PassEnd.Idle : PassEnd.More;
    }

    /// <summary>Stops the thread (at once: it never waits on a port), then disposes both ports.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stopping = true;
        _wake.Signal();
        bool ended = Thread.CurrentThread == _thread || _thread.Join(TimeSpan.FromSeconds(5));
        if (!ended) _logger.LogWarning("CAN bridge {A}-{B}: the thread did not stop within 5 s", A.Name, B.Name);
        foreach (Direction d in (ReadOnlySpan<Direction>)[_aToB, _bToA])
        {
            if (d.Holding) Interlocked.Increment(ref _dropped);
            d.From.FrameArrived = null;
            d.From.Dispose();
        }
        if (ended) _wake.Dispose();
    }
}

using System.Diagnostics;
using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AmpCan.Simulation;

/// <summary>
/// The simulated remote's CAN node, on a probed <see cref="VirtioCanDriver"/>: it starts the controller, answers
/// frames as an echo service, sends a heartbeat, restarts the controller after a bus-off, and stops the controller
/// when it is stopped. One thread of its own, as an RTOS task blocked on its CAN driver.
/// </summary>
/// <remarks>
/// The echo: a frame with an even identifier X is answered by the same frame (kind, length, data) with identifier
/// X + 1, which is odd and so never answered: two nodes on one bus answer a third member, never each other forever.
/// Heartbeats (standard identifiers 0x700 to 0x77F, CANopen's NMT error control range) are not answered either, so a
/// node's heartbeat never draws another's answer onto the next node's heartbeat identifier. The heartbeat is one
/// byte, a counter from 0 that wraps, every <see cref="SimulatedCanNodeOptions.HeartbeatPeriod"/>, the first right
/// after START.
/// </remarks>
public sealed class SimulatedCanNode
{
    /// <summary>Heartbeats go out with identifier <c>HeartbeatBase + node id</c>.</summary>
    public const uint HeartbeatBase = 0x700;

    /// <summary>The last identifier of the heartbeat range (node 127).</summary>
    public const uint HeartbeatLast = 0x77F;

    private readonly VirtioCanDriver _driver;
    private readonly SimulatedCanNodeOptions _options;
    private readonly ILogger _logger;
    private readonly AutoResetEvent _arrived = new(false);
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _received, _answered, _heartbeats, _unsent, _restarts;
    private byte _counter;
    private int _running;

    /// <summary>A node on <paramref name="driver"/> (probed by its transport); nothing runs until <see cref="RunAsync"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option out of range.</exception>
    public SimulatedCanNode(VirtioCanDriver driver, SimulatedCanNodeOptions? options = null, ILogger? logger = null)
    {
        _driver = driver;
        _options = options ?? new SimulatedCanNodeOptions();
        _options.Validate();
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The heartbeat's identifier.</summary>
    public uint HeartbeatId => HeartbeatBase + (uint)_options.NodeId;

    /// <summary>Completes when the controller first started.</summary>
    public Task Started => _started.Task;

    /// <summary>Frames taken from the driver (echoes and error frames included).</summary>
    public long Received => Interlocked.Read(ref _received);

    /// <summary>Frames answered.</summary>
    public long Answered => Interlocked.Read(ref _answered);

    /// <summary>Heartbeats sent.</summary>
    public long Heartbeats => Interlocked.Read(ref _heartbeats);

    /// <summary>Answers and heartbeats the driver did not take (Busy, Down, or a frame it cannot carry).</summary>
    public long Unsent => Interlocked.Read(ref _unsent);

    /// <summary>Times the controller was started again (after a bus-off, or found stopped by a heartbeat the driver refused as Down).</summary>
    public long Restarts => Interlocked.Read(ref _restarts);

    /// <summary>True when the node answers <paramref name="frame"/>: a data or remote frame with an even identifier outside the heartbeat range.</summary>
    public static bool Answers(in CanFrame frame) =>
        !frame.IsError && !frame.IsEcho && frame.Id % 2 == 0 && (frame.IsExtended || frame.Id is < HeartbeatBase or > HeartbeatLast);

    /// <summary>
    /// Runs the node on a thread of its own until <paramref name="cancellation"/>: START (retried until the device
    /// answers OK), then answers and heartbeats; on cancellation STOP. The task completes once the node stopped; it
    /// faults only when the node could not run at all (the driver not probed).
    /// </summary>
    /// <exception cref="InvalidOperationException">The node is already running.</exception>
    public Task RunAsync(CancellationToken cancellation)
    {
        if (Interlocked.Exchange(ref _running, 1) != 0) throw new InvalidOperationException($"CAN node {_options.NodeId} is already running");
        return Task.Factory.StartNew(() =>
        {
            try
            {
                Run(cancellation);
            }
            finally
            {
                Volatile.Write(ref _running, 0);
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    // The node's task: take what arrived, answer it, START when due (first, and after a bus-off or a controller found
    // down), beat when due, then block until a frame arrives, the next of those is due, or the node is stopped.
    private void Run(CancellationToken cancellation)
    {
        _driver.FrameArrived = () => _arrived.Set();
        WaitHandle[] wake = [_arrived, cancellation.WaitHandle];
        long period = Ticks(_options.HeartbeatPeriod);
        long startAt = Stopwatch.GetTimestamp(); // when to START; 0: the controller is started
        long nextHeartbeat = 0;
        bool restarting = false;
        try
        {
            while (!cancellation.IsCancellationRequested)
            {
                while (_driver.TryReceive(out CanFrame frame))
                {
                    Interlocked.Increment(ref _received);
                    if (CanErrorFrame.IsBusOff(frame) && startAt == 0) startAt = AfterBusOff(ref restarting);
                    else if (Answers(frame)) Answer(frame);
                }
                long now = Stopwatch.GetTimestamp();
                if (startAt != 0 && now >= startAt)
                {
                    if (StartController(cancellation))
                    {
                        if (restarting) Interlocked.Increment(ref _restarts);
                        restarting = false;
                        startAt = 0;
                        nextHeartbeat = Stopwatch.GetTimestamp();
                    }
                    else
                    {
                        startAt = Stopwatch.GetTimestamp() + Ticks(RetryDelay);
                    }
                    continue;
                }
                if (startAt == 0 && now >= nextHeartbeat)
                {
                    nextHeartbeat = Math.Max(nextHeartbeat + period, now);
                    // A controller found down without a bus-off (the device was reset and the driver probed again) is started again too.
                    if (SendHeartbeat() == CanSendResult.Down && !_driver.IsStarted && _options.BusOffRestart is not null)
                    {
                        restarting = true;
                        startAt = now + Ticks(RetryDelay);
                    }
                    continue;
                }
                long until = startAt != 0 ? startAt : nextHeartbeat;
                if (until == long.MaxValue) WaitHandle.WaitAny(wake);
                else WaitHandle.WaitAny(wake, TimeSpan.FromSeconds(Math.Max(0, until - now) / (double)Stopwatch.Frequency));
            }
        }
        finally
        {
            _driver.FrameArrived = null;
            StopController();
        }
    }

    private TimeSpan RetryDelay => _options.BusOffRestart ?? TimeSpan.FromSeconds(1);

    private static long Ticks(TimeSpan t) => (long)(t.TotalSeconds * Stopwatch.Frequency);

    // When to START again after a bus-off: after the restart delay, or never (long.MaxValue) when the node stays off.
    private long AfterBusOff(ref bool restarting)
    {
        if (_options.BusOffRestart is not TimeSpan delay)
        {
            _logger.LogWarning("CAN node {Node}: bus-off; the controller stays stopped", _options.NodeId);
            return long.MaxValue;
        }
        _logger.LogWarning("CAN node {Node}: bus-off; starting the controller again in {Delay}", _options.NodeId, delay);
        restarting = true;
        return Stopwatch.GetTimestamp() + Ticks(delay);
    }

    private bool StartController(CancellationToken cancellation)
    {
        Task<bool> start = _driver.StartAsync(cancellation); // throws when the driver was never probed: the node cannot run
        try
        {
            if (!start.Wait(_options.ControlTimeout))
            {
                _logger.LogWarning("CAN node {Node}: the device did not answer START within {Timeout}", _options.NodeId, _options.ControlTimeout);
                return false;
            }
        }
        catch (AggregateException) when (cancellation.IsCancellationRequested)
        {
            return false;
        }
        if (!start.Result)
        {
            _logger.LogWarning("CAN node {Node}: the device refused START", _options.NodeId);
            return false;
        }
        _logger.LogInformation("CAN node {Node}: controller started", _options.NodeId);
        _started.TrySetResult();
        return true;
    }

    private void Answer(in CanFrame frame)
    {
        CanFrame answer = frame;
        answer.Id = frame.Id + 1;
        if (TrySend(answer)) Interlocked.Increment(ref _answered);
    }

    private CanSendResult SendHeartbeat()
    {
        var beat = new CanFrame { Id = HeartbeatId, Length = 1 };
        beat.Data[0] = _counter;
        CanSendResult result = Send(beat);
        if (result != CanSendResult.Sent) return result;
        _counter++;
        Interlocked.Increment(ref _heartbeats);
        return result;
    }

    private bool TrySend(in CanFrame frame) => Send(frame) == CanSendResult.Sent;

    private CanSendResult Send(in CanFrame frame)
    {
        CanSendResult result;
        try
        {
            result = _driver.Send(frame);
        }
        catch (ArgumentException e)
        {
            // A frame this controller cannot carry (its features changed under us with a new probe): not sent.
            _logger.LogDebug("CAN node {Node}: {Reason}", _options.NodeId, e.Message);
            result = CanSendResult.Down;
        }
        if (result != CanSendResult.Sent) Interlocked.Increment(ref _unsent);
        return result;
    }

    private void StopController()
    {
        try
        {
            if (_driver.IsProbed && !_driver.StopAsync().Wait(_options.ControlTimeout))
                _logger.LogWarning("CAN node {Node}: the device did not answer STOP within {Timeout}", _options.NodeId, _options.ControlTimeout);
        }
        catch (Exception e)
        {
            _logger.LogWarning("CAN node {Node}: could not stop the controller: {Reason}", _options.NodeId, e.Message);
        }
    }
}

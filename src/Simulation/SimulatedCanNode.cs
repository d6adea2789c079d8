using System.Diagnostics;
using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AmpCan.Simulation;

/// <summary>
/// A simulated CAN node (an ECU, or the simulated remote's CAN task) on a CAN port: it answers frames as an echo
/// service and sends a heartbeat. On a port whose controller someone else starts and stops (a member of an in-process
/// bus, a controller its owner keeps) that is all; built on a probed <see cref="VirtioCanDriver"/>, the node keeps that
/// controller itself with a <see cref="VirtioCanControllerKeeper"/>: START, START again after a bus-off, STOP when
/// the node stops. One thread of its own, as an RTOS task blocked on its CAN driver.
/// </summary>
/// <remarks>
/// The echo: a frame with an even identifier X is answered by the same frame (kind, length, data) with identifier
/// X + 1, which is odd and so never answered: two nodes on one bus answer a third member, never each other forever.
/// Heartbeats (standard identifiers 0x700 to 0x77F, CANopen's NMT error control range) are not answered either, so a
/// node's heartbeat never draws another's answer onto the next node's heartbeat identifier. The heartbeat is one
/// byte, a counter from 0 that wraps, every <see cref="SimulatedCanNodeOptions.HeartbeatPeriod"/>: the first when the
/// node starts running, or, on a controller it keeps, right after each START.
/// </remarks>
public sealed class SimulatedCanNode
{
    /// <summary>Heartbeats go out with identifier <c>HeartbeatBase + node id</c>.</summary>
    public const uint HeartbeatBase = 0x700;

    /// <summary>The last identifier of the heartbeat range (node 127).</summary>
    public const uint HeartbeatLast = 0x77F;

    private readonly ICanPort _port;
    private readonly VirtioCanControllerKeeper? _keeper;
    private readonly SimulatedCanNodeOptions _options;
    private readonly ILogger _logger;
    private readonly AutoResetEvent _arrived = new(false);
    private readonly TaskCompletionSource _running = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _received, _answered, _heartbeats, _unsent;
    private byte _counter;
    private int _ran;
    private int _beatNow;

    /// <summary>A node on <paramref name="port"/>, whose controller someone else starts and stops; nothing runs until <see cref="RunAsync"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option out of range.</exception>
    public SimulatedCanNode(ICanPort port, SimulatedCanNodeOptions? options = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(port);
        _options = options ?? new SimulatedCanNodeOptions();
        _options.Validate();
        _logger = logger ?? NullLogger.Instance;
        _port = port;
    }

    /// <summary>
    /// A node on <paramref name="driver"/> (probed by its transport) that keeps its controller (restarting it
    /// <see cref="SimulatedCanNodeOptions.BusOffRestart"/> after a bus-off); nothing runs until <see cref="RunAsync"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">An option out of range.</exception>
    public SimulatedCanNode(VirtioCanDriver driver, SimulatedCanNodeOptions? options = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(driver);
        _options = options ?? new SimulatedCanNodeOptions();
        _options.Validate();
        _logger = logger ?? NullLogger.Instance;
        _keeper = new VirtioCanControllerKeeper(driver, new VirtioCanControllerKeeperOptions { RestartDelay = _options.BusOffRestart, ControlTimeout = _options.ControlTimeout }, _logger)
        {
            ControllerStarted = BeatNow,
        };
        _port = _keeper.Port;
    }

    /// <summary>The heartbeat's identifier.</summary>
    public uint HeartbeatId => HeartbeatBase + (uint)_options.NodeId;

    /// <summary>The keeper of the node's controller, when the node was built on a driver; null on a port someone else starts.</summary>
    public VirtioCanControllerKeeper? Keeper => _keeper;

    /// <summary>Completes when the controller first started (on a port someone else starts: when the node started running).</summary>
    public Task Started => _keeper?.Started ?? _running.Task;

    /// <summary>Frames taken from the port (error frames included).</summary>
    public long Received => Interlocked.Read(ref _received);

    /// <summary>Frames answered.</summary>
    public long Answered => Interlocked.Read(ref _answered);

    /// <summary>Heartbeats sent.</summary>
    public long Heartbeats => Interlocked.Read(ref _heartbeats);

    /// <summary>Answers and heartbeats the port did not take (Busy, Down, or a frame it cannot carry).</summary>
    public long Unsent => Interlocked.Read(ref _unsent);

    /// <summary>Times the node's controller was started again (after a bus-off, or found stopped); 0 on a port someone else starts.</summary>
    public long Restarts => _keeper?.Restarts ?? 0;

    /// <summary>True when the node answers <paramref name="frame"/>: a data or remote frame with an even identifier outside the heartbeat range.</summary>
    public static bool Answers(in CanFrame frame) =>
        !frame.IsError && !frame.IsEcho && frame.Id % 2 == 0 && (frame.IsExtended || frame.Id is < HeartbeatBase or > HeartbeatLast);

    /// <summary>
    /// Runs the node on a thread of its own until <paramref name="cancellation"/>: answers and heartbeats (on a driver,
    /// after its keeper started the controller; on cancellation the keeper STOPs it). The task completes once the node
    /// stopped; it faults only when the node could not run at all (its driver not probed). A node runs once.
    /// </summary>
    /// <exception cref="InvalidOperationException">The node has already run.</exception>
    public Task RunAsync(CancellationToken cancellation)
    {
        if (Interlocked.Exchange(ref _ran, 1) != 0) throw new InvalidOperationException($"CAN node {_options.NodeId} has already run (a node runs once)");
        return Task.Factory.StartNew(() => Run(cancellation), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    // The node's task: take what arrived and answer it, beat when due, then block until a frame arrives, the next beat
    // is due, the keeper started the controller, or the node is stopped.
    private void Run(CancellationToken cancellation)
    {
        _port.FrameArrived = () => _arrived.Set();
        WaitHandle[] wake = [_arrived, cancellation.WaitHandle];
        long period = Ticks(_options.HeartbeatPeriod);
        long nextHeartbeat = long.MaxValue; // on a kept controller: from its first START
        try
        {
            if (_keeper is null)
            {
                nextHeartbeat = Stopwatch.GetTimestamp();
                _running.TrySetResult();
            }
            else
            {
                _keeper.Start(); // throws when the driver was never probed: the node cannot run
            }
            while (!cancellation.IsCancellationRequested)
            {
                while (_port.TryReceive(out CanFrame frame))
                {
                    Interlocked.Increment(ref _received);
                    if (Answers(frame)) Answer(frame);
                }
                long now = Stopwatch.GetTimestamp();
                if (Volatile.Read(ref _beatNow) != 0 && Interlocked.Exchange(ref _beatNow, 0) != 0) nextHeartbeat = now;
                if (now >= nextHeartbeat)
                {
                    nextHeartbeat = Math.Max(nextHeartbeat + period, now);
                    SendHeartbeat();
                    continue;
                }
                if (nextHeartbeat == long.MaxValue) WaitHandle.WaitAny(wake);
                else WaitHandle.WaitAny(wake, TimeSpan.FromSeconds(Math.Max(0, nextHeartbeat - now) / (double)Stopwatch.Frequency));
            }
        }
        finally
        {
            _port.FrameArrived = null;
            _keeper?.Dispose();
        }
    }

    // The keeper's thread, after each START: the first heartbeat goes out at once.
    private void BeatNow()
    {
        Volatile.Write(ref _beatNow, 1);
        _arrived.Set();
    }

    private static long Ticks(TimeSpan t) => (long)(t.TotalSeconds * Stopwatch.Frequency);

    private void Answer(in CanFrame frame)
    {
        CanFrame answer = frame;
        answer.Id = frame.Id + 1;
        if (TrySend(answer)) Interlocked.Increment(ref _answered);
    }

    private void SendHeartbeat()
    {
        var beat = new CanFrame { Id = HeartbeatId, Length = 1 };
        beat.Data[0] = _counter;
        if (!TrySend(beat)) return;
        _counter++;
        Interlocked.Increment(ref _heartbeats);
    }

    private bool TrySend(in CanFrame frame)
    {
        CanSendResult result;
        try
        {
            result = _port.Send(frame);
        }
        catch (ArgumentException e)
        {
            // A frame this controller cannot carry (its features changed under us with a new probe): not sent.
            _logger.LogDebug("CAN node {Node}: {Reason}", _options.NodeId, e.Message);
            result = CanSendResult.Down;
        }
        if (result != CanSendResult.Sent) Interlocked.Increment(ref _unsent);
        return result == CanSendResult.Sent;
    }
}

using System.Diagnostics;
using AmpCan.SharedMem.Diagnostics;
using AmpCan.VirtioCan.Bus;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AmpCan.VirtioCan;

/// <summary>
/// Keeps a probed <see cref="VirtioCanDriver"/>'s controller started for whoever owns the driver (the simulated
/// remote's firmware on AmpCan's device, AmpCan on a remote-owned controller): START once <see cref="Start"/>ed,
/// waited for until the device answers (a device not up yet answers late) or until
/// <see cref="VirtioCanControllerKeeperOptions.StartTimeout"/>; START again
/// <see cref="VirtioCanControllerKeeperOptions.RestartDelay"/> after a bus-off or after a send found the controller
/// stopped, as SocketCAN's restart-ms; STOP when disposed. One thread of its own, asleep while the controller runs.
/// </summary>
/// <remarks>
/// Whoever takes and sends the controller's frames (a node, a bridge) does it through <see cref="Port"/>: that is how
/// the keeper sees the bus-off error frame the driver queues, and a send answered Down, without reading the driver
/// itself (the driver has one taker). At most one START of the keeper's is outstanding: a device that does not answer
/// is waited for, not sent a pile of requests.
/// </remarks>
public sealed class VirtioCanControllerKeeper : IDisposable
{
    private enum Outcome { Started, Refused, Waiting, Failed, Cancelled }

    private readonly VirtioCanDriver _driver;
    private readonly VirtioCanControllerKeeperOptions _options;
    private readonly ILogger _logger;
    private readonly RateLimitedLog _refusals = new();
    private readonly object _gate = new(); // Monitor.Wait/Pulse: the keeper sleeps on it
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource<bool> _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _run;
    private Task<bool>? _start;   // the keeper's START the device has not answered yet (keeper's thread only)
    private bool _troubled;       // under _gate: the controller was found down
    private int _up;              // 1 while the controller is started as far as the keeper knows
    private int _busOffSeen;
    private long _restarts, _busOffs;
    private int _disposed;

    /// <summary>A keeper of <paramref name="driver"/>'s controller (the driver stays its owner's to dispose); nothing runs until <see cref="Start"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option out of range.</exception>
    public VirtioCanControllerKeeper(VirtioCanDriver driver, VirtioCanControllerKeeperOptions? options = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(driver);
        _driver = driver;
        _options = options ?? new VirtioCanControllerKeeperOptions();
        _options.Validate();
        _logger = logger ?? NullLogger.Instance;
        Port = new KeptPort(this);
    }

    /// <summary>The driver as a CAN port, for whoever takes and sends its frames; disposing it leaves the driver to its owner.</summary>
    public ICanPort Port { get; }

    /// <summary>The driver kept.</summary>
    public VirtioCanDriver Driver => _driver;

    /// <summary>True once the controller first started; false when the keeper gave up or was stopped first.</summary>
    public Task<bool> Started => _started.Task;

    /// <summary>True while the controller is started as far as the keeper knows.</summary>
    public bool IsUp => Volatile.Read(ref _up) != 0;

    /// <summary>Times the controller was started again (after a bus-off, or after it was found stopped).</summary>
    public long Restarts => Interlocked.Read(ref _restarts);

    /// <summary>Bus-off error frames taken through <see cref="Port"/>: each a bus-off the device reported.</summary>
    public long BusOffs => Interlocked.Read(ref _busOffs);

    /// <summary>Called on the keeper's thread after every START the device answered OK (set it before <see cref="Start"/>).</summary>
    public Action? ControllerStarted { get; set; }

    /// <summary>Starts the keeper's thread, which STARTs the controller.</summary>
    /// <exception cref="InvalidOperationException">The driver has not been probed (there is no controller to keep), or the keeper already started.</exception>
    public void Start()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (!_driver.IsProbed) throw new InvalidOperationException($"{_driver.Name}: the driver has not been probed; there is no controller to keep");
        if (_run is not null) throw new InvalidOperationException($"{_driver.Name}: the keeper already started");
        _run = Task.Factory.StartNew(Run, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    // The keeper's thread: START when due (first, and a restart delay after trouble), then sleep until trouble comes.
    private void Run()
    {
        CancellationToken cancellation = _stop.Token;
        using CancellationTokenRegistration wakeOnStop = cancellation.Register(() => { lock (_gate) Monitor.PulseAll(_gate); });
        long due = Stopwatch.GetTimestamp(); // when to START; long.MaxValue: not due
        long deadline = Deadline(due);
        bool restarting = false;
        try
        {
            while (!cancellation.IsCancellationRequested)
            {
                long now = Stopwatch.GetTimestamp();
                if (now >= due)
                {
                    Outcome outcome = TryStart(deadline, cancellation);
                    if (cancellation.IsCancellationRequested) return; // an answer the stopping cut short is no news
                    now = Stopwatch.GetTimestamp();
                    switch (outcome)
                    {
                        case Outcome.Started:
                            due = long.MaxValue;
                            Volatile.Write(ref _up, 1);
                            if (restarting) Interlocked.Increment(ref _restarts);
                            restarting = false;
                            _logger.LogInformation("{Controller}: controller started", _driver.Name);
                            _started.TrySetResult(true);
                            Raise();
                            break;
                        case Outcome.Refused or Outcome.Waiting when now < deadline:
                            due = outcome == Outcome.Waiting ? now : Math.Min(deadline, now + Ticks(RetryDelay));
                            break;
                        case Outcome.Refused or Outcome.Waiting:
                            due = long.MaxValue;
                            _logger.LogError("{Controller}: the device did not start the controller within {Timeout}; it stays stopped", _driver.Name, _options.StartTimeout);
                            _started.TrySetResult(false);
                            break;
                        case Outcome.Failed:
                            due = long.MaxValue;
                            _logger.LogError("{Controller}: the driver has no device any more ({Reason}); the controller stays stopped", _driver.Name, _driver.Fault?.Message ?? "disposed");
                            _started.TrySetResult(false);
                            break;
                        default:
                            return;
                    }
                    continue;
                }
                if (!WaitForTrouble(due, now)) continue;
                bool busOff = Interlocked.Exchange(ref _busOffSeen, 0) != 0;
                string what = busOff ? "bus-off" : "found stopped";
                if (_options.RestartDelay is not TimeSpan delay)
                {
                    _logger.LogWarning("{Controller}: {What}; the controller stays stopped", _driver.Name, what);
                    continue;
                }
                _logger.LogWarning("{Controller}: {What}; starting the controller again in {Delay}", _driver.Name, what, delay);
                restarting = true;
                due = Stopwatch.GetTimestamp() + Ticks(delay);
                deadline = Deadline(due);
            }
        }
        finally
        {
            StopController();
        }
    }

    private TimeSpan RetryDelay => _options.RestartDelay is TimeSpan d && d > TimeSpan.Zero ? d : TimeSpan.FromSeconds(1);

    private static long Ticks(TimeSpan t) => (long)(t.TotalSeconds * Stopwatch.Frequency);

    private long Deadline(long from) => _options.StartTimeout is TimeSpan t ? from + Ticks(t) : long.MaxValue;

    // Sleeps until trouble is reported (true), or the START is due, or the keeper stops (false).
    private bool WaitForTrouble(long due, long now)
    {
        lock (_gate)
        {
            if (!_troubled && !_stop.IsCancellationRequested)
            {
                if (due == long.MaxValue) Monitor.Wait(_gate);
                else Monitor.Wait(_gate, TimeSpan.FromSeconds(Math.Max(0, due - now) / (double)Stopwatch.Frequency));
            }
            bool troubled = _troubled;
            _troubled = false;
            return troubled && !_stop.IsCancellationRequested;
        }
    }

    // One wait for the device's answer to START (sending it only when none of ours is outstanding).
    private Outcome TryStart(long deadline, CancellationToken cancellation)
    {
        if (!_driver.IsProbed) return Outcome.Failed;
        try
        {
            _start ??= _driver.StartAsync(CancellationToken.None);
        }
        catch (InvalidOperationException)
        {
            return Outcome.Failed; // disposed under us
        }
        long left = deadline == long.MaxValue ? long.MaxValue : deadline - Stopwatch.GetTimestamp();
        TimeSpan wait = TimeSpan.FromSeconds(Math.Clamp(left / (double)Stopwatch.Frequency, 0, _options.ControlTimeout.TotalSeconds));
        try
        {
            if (!_start.Wait((int)Math.Ceiling(wait.TotalMilliseconds), cancellation))
            {
                _logger.LogWarning("{Controller}: the device has not answered START within {Wait}", _driver.Name, wait);
                return Outcome.Waiting;
            }
        }
        catch (OperationCanceledException)
        {
            return Outcome.Cancelled;
        }
        catch (AggregateException)
        {
            // Answered by a failure rather than NOT_OK: tried again as a refusal.
        }
        Task<bool> answered = _start;
        _start = null;
        if (answered.IsCompletedSuccessfully && answered.Result) return Outcome.Started;
        if (!_driver.IsProbed) return Outcome.Failed;
        if (_refusals.ShouldLog(out long suppressed))
            _logger.LogWarning("{Controller}: the device refused START{Note}", _driver.Name, RateLimitedLog.Note(suppressed));
        return Outcome.Refused;
    }

    private void Raise()
    {
        try
        {
            ControllerStarted?.Invoke();
        }
        catch (Exception e)
        {
            // The callback is the owner's; its failure must not cost the keeper.
            _logger.LogError(e, "{Controller}: the controller-started callback failed", _driver.Name);
        }
    }

    // Any thread (the port's taker or sender): the controller is down. Said once per start: the first report wakes the keeper.
    private void Trouble(bool busOff)
    {
        if (busOff) Volatile.Write(ref _busOffSeen, 1);
        if (Interlocked.Exchange(ref _up, 0) == 0) return;
        lock (_gate)
        {
            _troubled = true;
            Monitor.PulseAll(_gate);
        }
    }

    private void StopController()
    {
        Volatile.Write(ref _up, 0);
        // A device that never answered START would not answer STOP either: nothing to wait for.
        if (_start is { IsCompleted: false }) return;
        try
        {
            if (_driver.IsProbed && !_driver.StopAsync().Wait(_options.ControlTimeout))
                _logger.LogWarning("{Controller}: the device did not answer STOP within {Timeout}", _driver.Name, _options.ControlTimeout);
        }
        catch (Exception e)
        {
            _logger.LogWarning("{Controller}: could not stop the controller: {Reason}", _driver.Name, e.Message);
        }
    }

    /// <summary>Stops the keeper: its thread sends STOP (unless a START is still unanswered) and ends; the driver is left to its owner.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stop.Cancel();
        if (_run is not null && !_run.Wait(_options.ControlTimeout + TimeSpan.FromSeconds(1)))
            _logger.LogWarning("{Controller}: the keeper's thread did not end within {Timeout}", _driver.Name, _options.ControlTimeout + TimeSpan.FromSeconds(1));
        _started.TrySetResult(false);
    }

    /// <summary>The driver seen through the keeper: frames pass unchanged; a bus-off error frame taken, or a send answered Down while the keeper had the controller started, is reported to it.</summary>
    private sealed class KeptPort(VirtioCanControllerKeeper keeper) : ICanPort
    {
        private readonly VirtioCanDriver _driver = keeper._driver;

        public string Name => _driver.Name;

        public Action? FrameArrived
        {
            get => _driver.FrameArrived;
            set => _driver.FrameArrived = value;
        }

        public bool ConfirmsTransmits
        {
            get => _driver.ConfirmsTransmits;
            set => _driver.ConfirmsTransmits = value;
        }

        public int MaxUnconfirmed => _driver.MaxUnconfirmed;

        public int Pending => _driver.Pending;

        public long Dropped => _driver.Dropped;

        public CanSendResult Send(in CanFrame frame)
        {
            CanSendResult result = _driver.Send(frame);
            // Down while the keeper thinks it started: the device stopped it (a bus-off not taken yet, a reset).
            if (result == CanSendResult.Down && keeper.IsUp && !_driver.IsStarted) keeper.Trouble(busOff: false);
            return result;
        }

        public bool TryReceive(out CanFrame frame)
        {
            if (!_driver.TryReceive(out frame)) return false;
            if (CanErrorFrame.IsBusOff(frame))
            {
                Interlocked.Increment(ref keeper._busOffs);
                keeper.Trouble(busOff: true);
            }
            return true;
        }

        public bool TryPeek(out CanFrame frame) => _driver.TryPeek(out frame);

        // The driver is its owner's: the port's user (a bridge disposing its ports) only lets go of it.
        public void Dispose() => _driver.FrameArrived = null;
    }
}

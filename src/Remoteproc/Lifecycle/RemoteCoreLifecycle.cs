using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AmpCan.Remoteproc.Lifecycle;

/// <summary>
/// A remote core's lifecycle as Linux's remoteproc runs it: start, stop, attach, detach, and on a crash tear down,
/// restart and serve again (recovery enabled), or stay crashed (disabled) until <see cref="Recover"/>. A core that
/// crashes in a loop is restarted after a doubling back-off and finally left crashed. Each state change is one log line.
/// </summary>
/// <remarks>
/// What a run is (devices, the core's start and stop) is the session factory's: this class only sequences runs.
/// Transitions are serialised (one at a time); <see cref="Stop"/> first cancels a boot or a back-off in progress, so it
/// never waits behind a recovery that is sleeping. A crash of a session that was already stopped or replaced is ignored.
/// Nothing here throws on a background thread: a fault while recovering is logged and counts as a failed recovery.
/// </remarks>
public sealed class RemoteCoreLifecycle : IDisposable
{
    private readonly string _name;
    private readonly Func<CoreStartMode, CancellationToken, IRemoteCoreSession> _start;
    private readonly RemoteCoreLifecycleOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _transitions = new(1, 1);
    private readonly object _gate = new(); // the fields below, for readers on other threads
    private CancellationTokenSource _pending = new(); // a boot or back-off in progress; Stop and Dispose cancel it
    private IRemoteCoreSession? _session;
    private CoreStartMode _mode;
    private RemoteCoreState _state;
    private int _generation, _inARow, _crashes;
    private long _startedAt;
    private string? _lastCrash;
    private TimeSpan? _lastRecovery;
    private bool _disposed;

    /// <summary>
    /// A core named <paramref name="name"/>, offline; <paramref name="start"/> begins a session (boot or attach) and
    /// throws when it cannot, the message naming why.
    /// </summary>
    public RemoteCoreLifecycle(string name, Func<CoreStartMode, CancellationToken, IRemoteCoreSession> start, RemoteCoreLifecycleOptions? options = null,
        ILogger? logger = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(start);
        _name = name;
        _start = start;
        _options = options ?? new RemoteCoreLifecycleOptions();
        _options.Validate();
        _logger = logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>
    /// Raised after every state change, on the thread that made it, while no other transition can run: a handler
    /// must not start one (it would wait for itself).
    /// </summary>
    public event Action<RemoteCoreState>? StateChanged;

    /// <summary>
    /// Raised when a crash is seen, before the crashed session is torn down (its memory still mapped: the place for a
    /// coredump); a handler's exception is logged and ignored.
    /// </summary>
    public event Action<IRemoteCoreSession, string>? Crashing;

    /// <summary>The core's name (a board's core: its board name, "board/core" on a multi-core board); not <c>Name</c>, which names states.</summary>
    public string CoreName => _name;

    /// <summary>The current state.</summary>
    public RemoteCoreState State { get { lock (_gate) return _state; } }

    /// <summary>The session being served (running or attached), or null.</summary>
    public IRemoteCoreSession? Session { get { lock (_gate) return _session; } }

    /// <summary>Crashes seen since construction.</summary>
    public int Crashes { get { lock (_gate) return _crashes; } }

    /// <summary>What the latest crash was, or null.</summary>
    public string? LastCrash { get { lock (_gate) return _lastCrash; } }

    /// <summary>How long the latest recovery took: from the crash being seen (or the recover command) to its session being up; null before any.</summary>
    public TimeSpan? LastRecoveryTime { get { lock (_gate) return _lastRecovery; } }

    /// <summary>Boots the core (from offline), or attaches to it again (from detached).</summary>
    /// <exception cref="InvalidOperationException">It is running, attached or crashed.</exception>
    public void Start(CancellationToken cancellation = default) =>
        Transition(() =>
        {
            Require("start", RemoteCoreState.Offline, RemoteCoreState.Detached);
            Begin(_state == RemoteCoreState.Detached ? CoreStartMode.Attach : CoreStartMode.Boot, cancellation);
        });

    /// <summary>Serves a core someone else started, without restarting it.</summary>
    /// <exception cref="InvalidOperationException">It is running, attached or crashed.</exception>
    public void Attach(CancellationToken cancellation = default) =>
        Transition(() =>
        {
            Require("attach to", RemoteCoreState.Offline, RemoteCoreState.Detached);
            Begin(CoreStartMode.Attach, cancellation);
        });

    /// <summary>Tears down the session and stops the core; a recovery waiting or booting gives up. Offline after it.</summary>
    public void Stop()
    {
        CancelPending();
        Transition(() =>
        {
            IRemoteCoreSession? s = TakeSession();
            if (s is not null) Dispose(s, "stopping");
            if (_state != RemoteCoreState.Offline) SetState(RemoteCoreState.Offline, "stopped");
        });
    }

    /// <summary>Tears down the session and leaves the core running.</summary>
    /// <exception cref="InvalidOperationException">It is not running or attached, or its session cannot leave it running (<see cref="IRemoteCoreSession.CannotDetach"/>).</exception>
    public void Detach() =>
        Transition(() =>
        {
            Require("detach from", RemoteCoreState.Running, RemoteCoreState.Attached);
            if (Session?.CannotDetach is string why) throw new InvalidOperationException($"remote {_name}: cannot detach: {why}");
            IRemoteCoreSession s = TakeSession()!;
            try { s.Detach(); }
            catch (Exception e) { _logger.LogWarning("remote {Core}: detaching: {Reason}", _name, e.Message); }
            SetState(RemoteCoreState.Detached, "detached: the core runs on, unserved");
        });

    /// <summary>
    /// Recovers once now, whatever the policy, as writing <c>recover</c> to Linux's <c>recovery</c> does: a crashed
    /// core is restarted; a running one is torn down and restarted.
    /// </summary>
    /// <exception cref="InvalidOperationException">It is offline or detached.</exception>
    public void Recover(CancellationToken cancellation = default) =>
        Transition(() =>
        {
            Require("recover", RemoteCoreState.Crashed, RemoteCoreState.Running, RemoteCoreState.Attached);
            IRemoteCoreSession? s = TakeSession();
            if (s is not null) Dispose(s, "recovering");
            lock (_gate) _inARow = 0;
            long started = _time.GetTimestamp();
            try
            {
                Begin(_mode, cancellation);
                lock (_gate) _lastRecovery = _time.GetElapsedTime(started);
            }
            catch
            {
                SetState(RemoteCoreState.Crashed, "recovery failed");
                throw;
            }
        });

    /// <summary>
    /// Reports a crash the host was told of rather than saw, as writing to Linux's debugfs <c>crash</c> file does
    /// (rproc_report_crash): handled exactly as one the session's watch saw, recovery policy included. The task
    /// completes once the crashed session is torn down (its devices gone); recovery goes on after it.
    /// </summary>
    /// <exception cref="InvalidOperationException">It is not running or attached.</exception>
    public Task ReportCrash(string reason)
    {
        int generation;
        lock (_gate)
        {
            Require("crash", RemoteCoreState.Running, RemoteCoreState.Attached);
            generation = _generation;
        }
        var tornDown = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = Task.Run(() => CrashedAsync(generation, reason, tornDown));
        return tornDown.Task;
    }

    private void Require(string what, params RemoteCoreState[] allowed)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!allowed.Contains(_state)) throw new InvalidOperationException($"cannot {what} remote {_name}: it is {Name(_state)}");
    }

    private void Transition(Action change)
    {
        _transitions.Wait();
        try { change(); }
        finally { _transitions.Release(); }
    }

    // Runs under _transitions: starts a session and watches it for a crash.
    private void Begin(CoreStartMode mode, CancellationToken cancellation)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellation, Pending());
        IRemoteCoreSession session = _start(mode, linked.Token);
        int generation;
        lock (_gate)
        {
            generation = ++_generation;
            _session = session;
            _mode = mode;
            _startedAt = _time.GetTimestamp();
        }
        SetState(mode == CoreStartMode.Boot ? RemoteCoreState.Running : RemoteCoreState.Attached, mode == CoreStartMode.Boot ? "running" : "attached");
        session.Crashed.ContinueWith(t => HandleCrash(generation, t), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private void HandleCrash(int generation, Task<string> seen)
    {
        string reason = seen.IsCompletedSuccessfully ? seen.Result : $"its crash watch failed ({seen.Exception?.GetBaseException().Message ?? "cancelled"})";
        _ = Task.Run(() => CrashedAsync(generation, reason));
    }

    private async Task CrashedAsync(int generation, string reason, TaskCompletionSource? tornDown = null)
    {
        try
        {
            long seenAt = _time.GetTimestamp();
            int inARow;
            await _transitions.WaitAsync().ConfigureAwait(false);
            try
            {
                IRemoteCoreSession s;
                lock (_gate)
                {
                    if (_disposed || generation != _generation || _session is null)
                    {
                        tornDown?.TrySetException(new InvalidOperationException($"remote {_name} was stopped or replaced before the crash was handled"));
                        return; // stopped or replaced meanwhile
                    }
                    s = _session;
                    _session = null;
                    _crashes++;
                    _lastCrash = reason;
                    _inARow = _time.GetElapsedTime(_startedAt) < _options.StableAfter ? _inARow + 1 : 1;
                    inARow = _inARow;
                }
                SetState(RemoteCoreState.Crashed, $"crashed ({reason})", LogLevel.Error);
                try { Crashing?.Invoke(s, reason); }
                catch (Exception e) { _logger.LogError("remote {Core}: after its crash: {Reason}", _name, e.Message); }
                Dispose(s, "tearing down after the crash");
            }
            finally { _transitions.Release(); }
            tornDown?.TrySetResult();

            if (_options.Recovery == RecoveryPolicy.Disabled)
            {
                _logger.LogWarning("remote {Core}: recovery is disabled; it stays crashed until recovered by hand", _name);
                return;
            }
            await RecoverAsync(inARow, seenAt).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            tornDown?.TrySetException(e);
            _logger.LogError(e, "remote {Core}: fault while handling its crash", _name);
        }
    }

    private async Task RecoverAsync(int inARow, long seenAt)
    {
        CancellationToken cancel = Pending();
        while (true)
        {
            if (inARow > _options.CrashLoopLimit)
            {
                _logger.LogError("remote {Core}: crashed {Count} times in a row, each within {Stable} of starting; left crashed until recovered by hand",
                    _name, inARow - 1, _options.StableAfter);
                return;
            }
            TimeSpan wait = _options.Backoff(inARow);
            if (wait > TimeSpan.Zero)
            {
                // The wait is armed before it is announced: whoever reads the line may move a test clock past it.
                Task delay = Task.Delay(wait, _time, cancel);
                _logger.LogWarning("remote {Core}: crash {Count} in a row; recovering in {Wait}", _name, inARow, wait);
                try { await delay.ConfigureAwait(false); }
                catch (OperationCanceledException) { return; }
            }
            await _transitions.WaitAsync(CancellationToken.None).ConfigureAwait(false);
            try
            {
                lock (_gate)
                    if (_disposed || _state != RemoteCoreState.Crashed || cancel.IsCancellationRequested) return; // stopped or recovered meanwhile
                try
                {
                    Begin(_mode, cancel);
                    TimeSpan took = _time.GetElapsedTime(seenAt);
                    lock (_gate) _lastRecovery = took;
                    _logger.LogInformation("remote {Core}: recovered {Took} ms after the crash was seen", _name, (long)took.TotalMilliseconds);
                    return;
                }
                catch (OperationCanceledException) when (cancel.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception e)
                {
                    lock (_gate) inARow = ++_inARow;
                    _logger.LogError("remote {Core}: recovery failed: {Reason}", _name, e.Message);
                }
            }
            finally { _transitions.Release(); }
        }
    }

    private IRemoteCoreSession? TakeSession()
    {
        lock (_gate)
        {
            IRemoteCoreSession? s = _session;
            _session = null;
            _generation++; // a crash the old session reports from now on is not ours to handle
            return s;
        }
    }

    private CancellationToken Pending()
    {
        lock (_gate) return _pending.Token;
    }

    private void CancelPending()
    {
        CancellationTokenSource old;
        lock (_gate)
        {
            old = _pending;
            _pending = new CancellationTokenSource();
        }
        old.Cancel();
        old.Dispose();
    }

    private void Dispose(IRemoteCoreSession s, string what)
    {
        try { s.Dispose(); }
        catch (Exception e) { _logger.LogWarning("remote {Core}: {What}: {Reason}", _name, what, e.Message); }
    }

    private void SetState(RemoteCoreState state, string said, LogLevel level = LogLevel.Information)
    {
        lock (_gate) _state = state;
        _logger.Log(level, "remote {Core}: {State}", _name, said);
        try { StateChanged?.Invoke(state); }
        catch (Exception e) { _logger.LogError("remote {Core}: a state-change handler failed: {Reason}", _name, e.Message); }
    }

    /// <summary>The state as Linux spells it in sysfs.</summary>
    public static string Name(RemoteCoreState state) => state.ToString().ToLowerInvariant();

    /// <summary>Stops the core (as <see cref="Stop"/>) and ends every recovery.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        Stop();
        lock (_gate) _disposed = true;
    }
}

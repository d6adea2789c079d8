namespace AmpCan.Remoteproc.Lifecycle;

/// <summary>
/// Watches one session of a remote core for a crash: asks its <see cref="ICoreHealthCheck"/>s at every tick of
/// <see cref="Interval"/>, and takes crashes others see as they happen (<see cref="Report"/>: a remote process exiting).
/// The first crash seen completes <see cref="Crashed"/> and ends the watch; what follows is the lifecycle's.
/// </summary>
public sealed class CoreCrashWatch : IDisposable
{
    private readonly ICoreHealthCheck[] _checks;
    private readonly TimeProvider _time;
    private readonly TaskCompletionSource<string> _crashed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ITimer? _timer;
    private long _lastTick;
    private int _checking;

    /// <summary>Starts ticking every <paramref name="interval"/> (no timer when there is no check: only reports end it).</summary>
    public CoreCrashWatch(IEnumerable<ICoreHealthCheck> checks, TimeSpan interval, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        _checks = [.. checks];
        _time = time ?? TimeProvider.System;
        Interval = interval;
        _lastTick = _time.GetTimestamp();
        if (_checks.Length > 0) _timer = _time.CreateTimer(_ => Tick(), null, interval, interval);
    }

    /// <summary>How often the checks are asked.</summary>
    public TimeSpan Interval { get; }

    /// <summary>Completes with what was seen first.</summary>
    public Task<string> Crashed => _crashed.Task;

    /// <summary>A crash seen elsewhere (first one wins; later ones are ignored).</summary>
    public void Report(string reason)
    {
        if (_crashed.TrySetResult(reason)) _timer?.Dispose();
    }

    private void Tick()
    {
        // Ticks do not overlap: a slow pass (a page of device memory) makes the next one skip, not run beside it.
        if (Interlocked.Exchange(ref _checking, 1) != 0) return;
        try
        {
            if (_crashed.Task.IsCompleted) return;
            long now = _time.GetTimestamp();
            // A late tick (this process descheduled under load, stopped in a debugger) counts as at most two: while we
            // could not look, the remote's firmware (a simulated one shares our fate) may not have had its turn either.
            TimeSpan since = TimeSpan.FromTicks(Math.Min(_time.GetElapsedTime(_lastTick, now).Ticks, 2 * Interval.Ticks));
            _lastTick = now;
            foreach (ICoreHealthCheck check in _checks)
            {
                string? seen;
                try { seen = check.Check(since); }
                catch (Exception e) { seen = $"a health check failed: {e.Message}"; } // never on the timer's thread
                if (seen is not null)
                {
                    Report(seen);
                    return;
                }
            }
        }
        finally { Volatile.Write(ref _checking, 0); }
    }

    /// <summary>Stops ticking; <see cref="Crashed"/> stays as it is.</summary>
    public void Dispose() => _timer?.Dispose();
}

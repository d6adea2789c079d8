using System.Diagnostics;

namespace AmpCan.SharedMem.Diagnostics;

/// <summary>
/// Admits at most <see cref="Burst"/> log lines per <see cref="Interval"/> for one kind of event a peer can trigger
/// (Linux's <c>printk_ratelimit</c>: 10 per 5 s); the rest are counted and the count is reported by the next line
/// that gets through. A hostile peer thus costs a bounded number of log lines however fast it misbehaves.
/// </summary>
public sealed class RateLimitedLog
{
    private readonly Lock _gate = new();
    private readonly long _intervalTicks;
    private long _windowStart = long.MinValue;
    private int _inWindow;
    private long _suppressed;

    /// <summary>Creates a limiter admitting <paramref name="burst"/> lines per <paramref name="interval"/> (default 10 per 5 s).</summary>
    public RateLimitedLog(int burst = 10, TimeSpan? interval = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(burst, 1);
        Burst = burst;
        Interval = interval ?? TimeSpan.FromSeconds(5);
        _intervalTicks = (long)(Interval.TotalSeconds * Stopwatch.Frequency);
    }

    /// <summary>Lines admitted per interval.</summary>
    public int Burst { get; }

    /// <summary>The interval.</summary>
    public TimeSpan Interval { get; }

    /// <summary>What to append to an admitted line: nothing, or how many like it were not logged before it.</summary>
    public static string Note(long suppressed) => suppressed == 0 ? "" : $" ({suppressed} similar lines not logged)";

    /// <summary>Events not logged since the limiter was created.</summary>
    public long TotalSuppressed { get; private set; }

    /// <summary>
    /// True when this event may be logged; <paramref name="suppressed"/> is then the number of events dropped since the
    /// last admitted one (log it with the line). Side effect: counts the event either way.
    /// </summary>
    public bool ShouldLog(out long suppressed)
    {
        long now = Stopwatch.GetTimestamp();
        lock (_gate)
        {
            if (_windowStart == long.MinValue || now - _windowStart >= _intervalTicks)
            {
                _windowStart = now;
                _inWindow = 0;
            }
            if (_inWindow < Burst)
            {
                _inWindow++;
                suppressed = _suppressed;
                _suppressed = 0;
                return true;
            }
            _suppressed++;
            TotalSuppressed++;
            suppressed = 0;
            return false;
        }
    }
}

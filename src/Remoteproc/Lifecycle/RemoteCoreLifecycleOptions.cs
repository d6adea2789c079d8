namespace AmpCan.Remoteproc.Lifecycle;

/// <summary>Recovery policy and crash-loop back-off of a <see cref="RemoteCoreLifecycle"/>.</summary>
public sealed record RemoteCoreLifecycleOptions
{
    /// <summary>Whether a crash is recovered on its own.</summary>
    public RecoveryPolicy Recovery { get; init; } = RecoveryPolicy.Enabled;

    /// <summary>The wait before the second recovery in a row (the first is at once); it doubles each time after.</summary>
    public TimeSpan FirstBackoff { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait between recoveries.</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Crashes in a row after which the core is left crashed (each within <see cref="StableAfter"/> of its start).</summary>
    public int CrashLoopLimit { get; init; } = 5;

    /// <summary>A run at least this long ends a crash loop: its crash counts as the first again.</summary>
    public TimeSpan StableAfter { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>The wait before recovery number <paramref name="inARow"/> (1 for the first crash in a row).</summary>
    public TimeSpan Backoff(int inARow)
    {
        if (inARow <= 1) return TimeSpan.Zero;
        double factor = Math.Pow(2, Math.Min(inARow - 2, 30));
        return TimeSpan.FromTicks((long)Math.Min(MaxBackoff.Ticks, FirstBackoff.Ticks * factor));
    }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first value out of range.</summary>
    public void Validate()
    {
        if (FirstBackoff < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(FirstBackoff), FirstBackoff, "must not be negative");
        if (MaxBackoff < FirstBackoff) throw new ArgumentOutOfRangeException(nameof(MaxBackoff), MaxBackoff, "must be at least FirstBackoff");
        if (CrashLoopLimit < 1) throw new ArgumentOutOfRangeException(nameof(CrashLoopLimit), CrashLoopLimit, "must be at least 1");
        if (StableAfter <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(StableAfter), StableAfter, "must be positive");
    }
}

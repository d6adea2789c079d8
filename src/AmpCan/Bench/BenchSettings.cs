namespace AmpCan.Host.Bench;

/// <summary>How long each part of a benchmark runs.</summary>
/// <param name="SpinRoundTrips">Round trips measured per busy-poll or adaptive case.</param>
/// <param name="DoorbellRoundTrips">Round trips measured per eventfd case.</param>
/// <param name="StreamBuffers">Buffers moved per throughput case.</param>
/// <param name="IdleSeconds">How long the idle adaptive loops are watched for CPU use.</param>
/// <param name="WarmupSeconds">How long each case runs before it is measured: tiered JIT promotes the hot loops only after
/// a call-counting delay and on-stack replacement, so a count-based warm-up measures unoptimised code.</param>
/// <param name="Filter">When set, only the cases whose key contains it run (floors always run).</param>
public sealed record BenchSettings(int SpinRoundTrips = 200_000, int DoorbellRoundTrips = 20_000, int StreamBuffers = 4_000_000, double IdleSeconds = 2, double WarmupSeconds = 0.5, string? Filter = null)
{
    /// <summary>A short run for smoke tests and CI.</summary>
    public static BenchSettings Quick => new(5_000, 500, 50_000, 0.3, 0.05);

    /// <summary>True when the case named <paramref name="key"/> is to run.</summary>
    public bool Runs(string key) => string.IsNullOrEmpty(Filter) || key.Contains(Filter, StringComparison.Ordinal);
}

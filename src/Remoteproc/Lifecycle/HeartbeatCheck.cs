using AmpCan.SharedMem;

namespace AmpCan.Remoteproc.Lifecycle;

/// <summary>
/// A watchdog on a heartbeat word: the remote's firmware adds to a 32-bit counter in shared memory more often than the
/// board's watchdog period, and a counter unchanged for a whole period means the core stopped (hung, crashed, held in
/// reset). The first period starts at the first tick, so a firmware still booting is given one period before it must beat.
/// </summary>
public sealed class HeartbeatCheck(IoRegion counter, TimeSpan period) : ICoreHealthCheck
{
    private uint _last = counter.ReadU32Acquire(0);
    private TimeSpan _still;

    /// <summary>The heartbeat's place, as the log names it.</summary>
    public string Where { get; init; } = $"0x{counter.DeviceAddress:x}";

    /// <inheritdoc/>
    public string? Check(TimeSpan sinceLast)
    {
        uint now = counter.ReadU32Acquire(0);
        if (now != _last)
        {
            _last = now;
            _still = TimeSpan.Zero;
            return null;
        }
        _still += sinceLast;
        return _still >= period ? $"watchdog: the heartbeat at {Where} has not changed for {(long)_still.TotalMilliseconds} ms (period {(long)period.TotalMilliseconds} ms)" : null;
    }
}

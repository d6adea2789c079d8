namespace AmpCan.VirtioCan;

/// <summary>How a <see cref="VirtioCanControllerKeeper"/> keeps its controller started.</summary>
public sealed record VirtioCanControllerKeeperOptions
{
    /// <summary>
    /// How long after a bus-off (or after a send found the controller stopped) the keeper starts it again, as
    /// SocketCAN's restart-ms; null: it stays stopped. Also the pause before a START the device refused is sent again.
    /// </summary>
    public TimeSpan? RestartDelay { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>How long one START or STOP is waited for before the keeper says so (a START is then waited for again, not sent again).</summary>
    public TimeSpan ControlTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long the keeper tries to start the controller before it gives up and says so; null: until stopped.</summary>
    public TimeSpan? StartTimeout { get; init; }

    /// <summary>Checks the values, naming the one out of range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A negative restart delay, or a timeout that is not positive.</exception>
    public void Validate()
    {
        if (RestartDelay < TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(RestartDelay), RestartDelay, "the restart delay cannot be negative");
        if (ControlTimeout <= TimeSpan.Zero || ControlTimeout.TotalMilliseconds > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(ControlTimeout), ControlTimeout, "the control timeout must be positive (and under 24 days)");
        if (StartTimeout <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(StartTimeout), StartTimeout, "the start timeout must be positive, or null to try until stopped");
    }
}

namespace AmpCan.Remoteproc.Boards;

/// <summary>How the remote's event loop waits.</summary>
public sealed record NotificationSpec
{
    /// <summary>polling, doorbell or adaptive.</summary>
    public AmpCan.SharedMem.Doorbells.NotificationMode Mode { get; init; } = AmpCan.SharedMem.Doorbells.NotificationMode.Adaptive;
    /// <summary>Longest spin budget: a second of spinning is a busy loop, not a budget.</summary>
    public const double MaxSpinMicroseconds = 1_000_000;
    /// <summary>Shortest spin budget: one <see cref="TimeSpan"/> tick; less rounds to no spin at all.</summary>
    public const double MinSpinMicroseconds = 0.1;

    /// <summary>Spin budget of the adaptive mode, <see cref="MinSpinMicroseconds"/> to <see cref="MaxSpinMicroseconds"/>.</summary>
    public double SpinMicroseconds { get; init; } = 50;
}

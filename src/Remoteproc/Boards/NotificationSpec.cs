namespace AmpCan.Remoteproc.Boards;

/// <summary>How the remote's event loop waits.</summary>
public sealed record NotificationSpec
{
    /// <summary>polling, doorbell or adaptive.</summary>
    public AmpCan.SharedMem.Doorbells.NotificationMode Mode { get; init; } = AmpCan.SharedMem.Doorbells.NotificationMode.Adaptive;
    /// <summary>Spin budget of the adaptive mode.</summary>
    public double SpinMicroseconds { get; init; } = 50;
}

using AmpCan.VirtioCan.Bus;

namespace AmpCan.Host.Bench;

/// <summary>
/// Counts how often a port's taker is woken: wraps the port's <see cref="ICanPort.FrameArrived"/> (set by the device
/// when it was activated) with a counter that calls it on. What each wake-up costs the thread that queued the frame
/// is one of the figures that say where a frame's time goes.
/// </summary>
internal sealed class PortWakeCounter
{
    private long _wakes;

    /// <summary>Wraps <paramref name="port"/>'s current callback; the port must be quiet.</summary>
    public PortWakeCounter(ICanPort port)
    {
        Action? inner = port.FrameArrived;
        port.FrameArrived = () =>
        {
            Interlocked.Increment(ref _wakes);
            inner?.Invoke();
        };
    }

    /// <summary>Wake-ups so far.</summary>
    public long Wakes => Interlocked.Read(ref _wakes);
}

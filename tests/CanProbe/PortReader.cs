using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;

namespace AmpCan.Tests.CanProbe;

/// <summary>Takes a port's frames as the device would: woken by FrameArrived, never spinning, each wait bounded.</summary>
internal sealed class PortReader
{
    private readonly ICanPort _port;
    private readonly SemaphoreSlim _arrived = new(0, int.MaxValue);

    public PortReader(ICanPort port)
    {
        _port = port;
        port.FrameArrived = () => _arrived.Release();
    }

    /// <summary>The next frame that <paramref name="wanted"/> accepts (the others are skipped); throws when none comes within <paramref name="limit"/>.</summary>
    public CanFrame Next(TimeSpan limit, Func<CanFrame, bool>? wanted = null, string what = "a frame")
    {
        DateTime deadline = DateTime.UtcNow + limit;
        while (true)
        {
            while (_port.TryReceive(out CanFrame f))
            {
                if (wanted is null || wanted(f)) return f;
                if (DateTime.UtcNow > deadline) break; // frames that are not wanted must not keep us here
            }
            TimeSpan left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || !_arrived.Wait(left))
                throw new TimeoutException($"{_port.Name}: {what} did not arrive within {limit.TotalSeconds} s");
        }
    }

    /// <summary>Like <see cref="Next"/>, but false instead of an exception when none comes in time.</summary>
    public bool TryNext(TimeSpan limit, Func<CanFrame, bool> wanted, out CanFrame frame)
    {
        try
        {
            frame = Next(limit, wanted);
            return true;
        }
        catch (TimeoutException)
        {
            frame = default;
            return false;
        }
    }

    /// <summary>Waits up to <paramref name="limit"/> for a wake-up (true) when there is nothing to take.</summary>
    public bool Wait(TimeSpan limit) => _port.Pending > 0 || _arrived.Wait(limit);

    /// <summary>Drops whatever waits.</summary>
    public void Clear()
    {
        while (_port.TryReceive(out _)) { }
    }
}

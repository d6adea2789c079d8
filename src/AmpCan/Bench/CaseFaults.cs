using AmpCan.Rpmsg;
using AmpCan.SharedMem.Doorbells;

namespace AmpCan.Host.Bench;

/// <summary>
/// The first fault of the loops and devices one benchmark case runs on. A benchmark thread waiting for the case gives
/// up at once with that fault's message instead of waiting out its timeout.
/// </summary>
internal sealed class CaseFaults
{
    private readonly CancellationTokenSource _faulted = new();
    private readonly Lock _gate = new();
    private (string Where, Exception Error)? _first;

    /// <summary>Watches <paramref name="loop"/> for a handler that threw and a doorbell that failed.</summary>
    public void Watch(NotificationLoop loop)
    {
        loop.HandlerFaulted += (h, e) => Report($"loop {loop.Name}: handler {h} failed", e);
        loop.DoorbellFailed += (d, e) => Report($"loop {loop.Name}: doorbell {d} failed", e);
    }

    /// <summary>Watches <paramref name="bus"/> for a device failure.</summary>
    public void Watch(RpmsgBus bus) => bus.DeviceFailed += e => Report($"{bus.Name} failed", e);

    /// <summary>Records a fault (the first one wins) and wakes whoever waits.</summary>
    public void Report(string where, Exception error)
    {
        lock (_gate)
        {
            if (_first is not null) return;
            _first = (where, error);
        }
        _faulted.Cancel();
    }

    /// <summary>Waits for <paramref name="done"/>; throws at the first fault, or a <see cref="TimeoutException"/> saying <paramref name="progress"/>.</summary>
    public void Wait(ManualResetEventSlim done, TimeSpan timeout, Func<string> progress)
    {
        try
        {
            if (done.Wait(timeout, _faulted.Token)) return;
        }
        catch (OperationCanceledException) when (_faulted.IsCancellationRequested)
        {
        }
        ThrowIfFaulted();
        throw new TimeoutException($"{progress()} after {timeout.TotalSeconds:F0} s");
    }

    /// <summary>Throws <see cref="BenchmarkFailedException"/> if anything faulted.</summary>
    public void ThrowIfFaulted()
    {
        (string Where, Exception Error)? first;
        lock (_gate) first = _first;
        if (first is var (where, error)) throw new BenchmarkFailedException($"{where}: {error.Message}", error);
    }
}

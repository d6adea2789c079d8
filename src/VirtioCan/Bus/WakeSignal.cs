namespace AmpCan.VirtioCan.Bus;

/// <summary>
/// Wakes one thread that takes work from several producers: a signal while the thread is awake costs an interlocked
/// exchange, not a system call. The thread calls <see cref="Rearm"/> before it looks for work and <see cref="Wait"/>
/// when it found none; a signal between the two wakes that wait at once.
/// </summary>
internal sealed class WakeSignal : IDisposable
{
    private readonly AutoResetEvent _event = new(false);
    private int _signalled;

    /// <summary>Wakes the thread (any thread may call it; it never blocks).</summary>
    public void Signal()
    {
        if (Interlocked.Exchange(ref _signalled, 1) == 0) _event.Set();
    }

    /// <summary>Side effect: signals from now on wake the next <see cref="Wait"/>. Call before looking for work.</summary>
    public void Rearm() => Interlocked.Exchange(ref _signalled, 0);

    /// <summary>Sleeps until signalled or <paramref name="milliseconds"/> passed (Timeout.Infinite: no limit); true when signalled.</summary>
    public bool Wait(int milliseconds) => _event.WaitOne(milliseconds);

    /// <summary>Releases the event (once no thread waits on it).</summary>
    public void Dispose() => _event.Dispose();
}

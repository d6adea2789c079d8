namespace AmpCan.SharedMem.Doorbells;

/// <summary>
/// How many threads of one group (the host's loops and the application threads polling for replies) may spin at
/// once. An adaptive loop spins only while the group is within its allowance; a thread waiting for a reply always may,
/// and pushes idle loops out of their spin, because it is the one whose latency matters and it needs no wake-up.
/// </summary>
/// <remarks>
/// The default, <see cref="Host"/>, allows one fewer than the cores this process may use (at least one), so that a
/// spinning loop never takes the last core from the threads it serves: a two-core master with a remote spinning on
/// one is the common case. A simulated remote core is not part of the host's budget and gets an allowance of its own.
/// </remarks>
public sealed class SpinAllowance
{
    private int _loops;
    private int _pollers;

    /// <summary>Creates an allowance of <paramref name="threads"/> spinning threads.</summary>
    public SpinAllowance(int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        Threads = threads;
    }

    /// <summary>The host's allowance: one fewer than the cores available, at least one.</summary>
    public static SpinAllowance Host { get; } = new(Math.Max(1, Environment.ProcessorCount - 1));

    /// <summary>Threads that may spin at once.</summary>
    public int Threads { get; }

    /// <summary>Loops spinning now.</summary>
    public int SpinningLoops => Volatile.Read(ref _loops);

    /// <summary>Threads polling for a reply now.</summary>
    public int Pollers => Volatile.Read(ref _pollers);

    /// <summary>A loop asks to start an idle spin; false when the group is at its allowance (park instead).</summary>
    internal bool TryEnterLoop()
    {
        if (Interlocked.Increment(ref _loops) + Volatile.Read(ref _pollers) <= Threads) return true;
        Interlocked.Decrement(ref _loops);
        return false;
    }

    /// <summary>True when a spinning loop should give its place up (pollers arrived).</summary>
    internal bool LoopShouldYield => Volatile.Read(ref _loops) + Volatile.Read(ref _pollers) > Threads;

    /// <summary>A loop stops spinning.</summary>
    internal void ExitLoop() => Interlocked.Decrement(ref _loops);

    /// <summary>A thread starts polling for a reply; idle loops of the group leave their spin.</summary>
    public void EnterPoller() => Interlocked.Increment(ref _pollers);

    /// <summary>The thread stops polling.</summary>
    public void ExitPoller() => Interlocked.Decrement(ref _pollers);
}

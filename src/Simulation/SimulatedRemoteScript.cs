

namespace AmpCan.Simulation;

/// <summary>Kinds of garbage the simulated remote can write to test the host's defences.</summary>
public enum GarbageKind
{
    /// <summary>Random bytes over the used ring of vq0 (costs the host that device).</summary>
    UsedRing,
    /// <summary>A message whose header claims more payload than its buffer (costs that message).</summary>
    OversizedHeader,
    /// <summary>A 39-byte name-service message (counted, not fatal).</summary>
    NameService,
}

/// <summary>
/// What a simulated remote does to the messages its echo and raw services receive: the first N are answered
/// normally, message N+1 triggers the scripted misbehaviour. Given to an in-process remote, or to <c>ampcan remote-sim</c>
/// as options, so that a remote in its own process misbehaves the same way.
/// </summary>
public sealed record SimulatedRemoteScript
{
    /// <summary>Delay before each reply (a slow remote).</summary>
    public TimeSpan ReplyLatency { get; init; }
    /// <summary>Stop answering after this many messages (a hung task; the core still runs).</summary>
    public int? SilentAfter { get; init; }
    /// <summary>Crash (the loop stops dead) on the message after this many.</summary>
    public int? CrashAfter { get; init; }
    /// <summary>Write <see cref="Garbage"/> instead of answering the message after this many.</summary>
    public int? GarbageAfter { get; init; }
    /// <summary>What garbage <see cref="GarbageAfter"/> writes.</summary>
    public GarbageKind Garbage { get; init; } = GarbageKind.UsedRing;
    /// <summary>Answer the message after this many with a flood of <see cref="FloodCount"/> messages to its sender.</summary>
    public int? FloodAfter { get; init; }
    /// <summary>Messages in the flood.</summary>
    public int FloodCount { get; init; } = 1000;
    /// <summary>Payload bytes of each flood message.</summary>
    public int FloodSize { get; init; } = 64;

    /// <summary>The <c>ampcan remote-sim</c> options that give a remote process this script.</summary>
    public IEnumerable<string> ToArguments()
    {
        if (ReplyLatency > TimeSpan.Zero) yield return $"--reply-latency-ms={ReplyLatency.TotalMilliseconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
        if (SilentAfter is int s) yield return $"--silent-after={s}";
        if (CrashAfter is int c) yield return $"--crash-after={c}";
        if (GarbageAfter is int g)
        {
            yield return $"--garbage-after={g}";
            yield return $"--garbage={Garbage}";
        }
        if (FloodAfter is int f)
        {
            yield return $"--flood-after={f}";
            yield return $"--flood-count={FloodCount}";
            yield return $"--flood-size={FloodSize}";
        }
    }
}

/// <summary>How the simulated core crashes.</summary>
public enum SimulatedCrash
{
    /// <summary>It stops dead: only a watchdog or a stalled ring tells.</summary>
    Hang,
    /// <summary>Its fatal-error handler marks its rpmsg device DEVICE_NEEDS_RESET, then it stops.</summary>
    Fault,
}

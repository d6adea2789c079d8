namespace AmpCan.Remoteproc.Trace;

/// <summary>How a <see cref="TraceLog"/> follows a core's trace buffers and where their lines go.</summary>
public sealed record TraceLogOptions
{
    /// <summary>The directory the trace files are written to (created when missing); <c>ampcan trace --directory</c> reads the same one.</summary>
    public required string Directory { get; init; }
    /// <summary>How often the buffers are read (100 ms: a human reading a trace sees a line well within a second).</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(100);
    /// <summary>The size a trace file is rotated to <c>.1</c> at (1 MiB: a trace then holds at most about 2 MiB of disk).</summary>
    public long MaxFileBytes { get; init; } = 1 << 20;
    /// <summary>The longest line held waiting for its newline; a longer one is written in pieces ending with "…".</summary>
    public int MaxLineBytes { get; init; } = TraceFollower.DefaultMaxLineBytes;
    /// <summary>
    /// Trace lines logged per <see cref="LogInterval"/> and trace (50; the rest go to the file only and are counted),
    /// since the remote decides how much it prints.
    /// </summary>
    public int LogBurst { get; init; } = 50;
    /// <summary>The window <see cref="LogBurst"/> counts in (5 s).</summary>
    public TimeSpan LogInterval { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>The clock the poll timer runs on and the file headers' times come from (tests move their own).</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;
}

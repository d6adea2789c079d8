namespace AmpCan.Remoteproc.Firmware;

/// <summary>Whether coredumps are written (Linux's remoteproc offers the same two through debugfs <c>coredump</c>, plus "inline").</summary>
public enum CoredumpMode
{
    /// <summary>A crash writes nothing.</summary>
    Disabled,
    /// <summary>A crash writes an ELF core file of the remote's memory.</summary>
    Enabled,
}

/// <summary>What happened to one coredump.</summary>
public enum CoredumpOutcome
{
    /// <summary>Coredumps are disabled; nothing was written.</summary>
    Disabled,
    /// <summary>The file was written whole.</summary>
    Written,
    /// <summary>It could not be written (the error says why); nothing partial was left behind.</summary>
    Failed,
}

/// <summary>The result of <see cref="CoredumpDirectory.Write"/>.</summary>
/// <param name="Outcome">Written, disabled or failed.</param>
/// <param name="Path">The file written, when <see cref="CoredumpOutcome.Written"/>.</param>
/// <param name="Error">Why it failed, when <see cref="CoredumpOutcome.Failed"/>.</param>
/// <param name="Removed">Older dumps deleted to keep the directory within its bound.</param>
public sealed record CoredumpResult(CoredumpOutcome Outcome, string? Path, string? Error, IReadOnlyList<string> Removed);

namespace AmpCan.Remoteproc.Trace;

/// <summary>What one entry <see cref="TraceFollower.Poll"/> returns stands for.</summary>
public enum TraceLineKind
{
    /// <summary>A line the remote ended with a newline (or left unfinished when it started over).</summary>
    Line,
    /// <summary>A piece of a line too long to hold (longer than the buffer, or than the follower's cap); the line goes on in the next entry.</summary>
    Cut,
    /// <summary>
    /// The remote started its text over from the beginning of the buffer (it rebooted or cleared it, or wrote so much
    /// between two polls that its place was lost); the text is empty, and text from before it may be missing.
    /// </summary>
    Restart,
}

/// <summary>One line of a remote's trace, escaped (<see cref="AmpCan.SharedMem.Diagnostics.PeerText"/>) so it is safe to log and print.</summary>
/// <param name="Text">The line without its newline: control characters and bytes that are not UTF-8 shown as escapes.</param>
/// <param name="Kind">Whether it is a whole line, a piece of one, or the mark of a restart.</param>
public readonly record struct TraceLine(string Text, TraceLineKind Kind);

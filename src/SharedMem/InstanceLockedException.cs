namespace AmpCan.SharedMem;

/// <summary>Another process holds the <see cref="InstanceLock"/> of a resource; the message names it (pid, command line).</summary>
public sealed class InstanceLockedException(string message, string lockPath, int? holderPid, string? holderCommand) : IOException(message)
{
    /// <summary>The lock file.</summary>
    public string LockPath { get; } = lockPath;

    /// <summary>The holder's process id as it recorded it, or null when it has not written it yet.</summary>
    public int? HolderPid { get; } = holderPid;

    /// <summary>The holder's command line as it recorded it, or null when unknown.</summary>
    public string? HolderCommand { get; } = holderCommand;
}

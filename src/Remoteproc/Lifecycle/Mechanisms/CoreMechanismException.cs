namespace AmpCan.Remoteproc.Lifecycle.Mechanisms;

/// <summary>A mechanism could not find, start, stop, hold or detach its core; the message names the file or register and what to do.</summary>
public sealed class CoreMechanismException : Exception
{
    /// <summary>An error with its message.</summary>
    public CoreMechanismException(string message) : base(message) { }

    /// <summary>An error caused by <paramref name="inner"/> (the failed file or register access).</summary>
    public CoreMechanismException(string message, Exception inner) : base(message, inner) { }
}

namespace AmpCan.Remoteproc.Lifecycle;

/// <summary>One way of seeing that a remote core crashed, asked by <see cref="CoreCrashWatch"/> at every tick.</summary>
public interface ICoreHealthCheck
{
    /// <summary>Null while the core looks alive; otherwise what was seen, in words for the log.</summary>
    /// <param name="sinceLast">Time since the previous tick (the first tick: the watch's interval).</param>
    string? Check(TimeSpan sinceLast);
}

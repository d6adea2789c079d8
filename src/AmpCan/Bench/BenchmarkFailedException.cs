namespace AmpCan.Host.Bench;

/// <summary>A benchmark case could not produce a figure that means what its name says: wrong contents, a faulted loop or device.</summary>
public sealed class BenchmarkFailedException(string message, Exception? inner = null) : Exception(message, inner);

using Microsoft.Extensions.Logging;

namespace AmpCan.Remoteproc.Boards;

/// <summary>
/// Waiting for something the remote provides at its own pace (its shared-memory file, its resource table, its doorbell
/// socket), where nothing notifies us: retried every few milliseconds, said once on the console when it takes longer than
/// a second (what, and for how long at most), stopped at once by cancellation (a clean stop, not a failure).
/// </summary>
public static class StartupWait
{
    private static readonly TimeSpan AnnounceAfter = TimeSpan.FromSeconds(1);

    /// <summary>Retries <paramref name="attempt"/> until it returns a value; with none, it says why that attempt failed.</summary>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    /// <exception cref="BoardException">Nothing came within <paramref name="timeout"/>; the message names <paramref name="what"/> and the last reason.</exception>
    public static T For<T>(string board, string what, TimeSpan timeout, ILogger logger, CancellationToken cancellation, Func<(T? Value, string? Reason)> attempt) where T : class
    {
        long start = Environment.TickCount64;
        bool announced = false;
        string? reason = null;
        while (true)
        {
            cancellation.ThrowIfCancellationRequested();
            (T? value, reason) = attempt();
            if (value is not null) return value;
            long waited = Environment.TickCount64 - start;
            if (waited >= (long)timeout.TotalMilliseconds)
                throw new BoardException($"board '{board}': {what} did not come within {timeout.TotalSeconds:0.###} s{(reason is null ? "" : $" ({reason})")}");
            if (!announced && waited >= (long)AnnounceAfter.TotalMilliseconds)
            {
                logger.LogInformation("board {Board}: waiting for {What} (up to {Seconds:0.###} s; Ctrl+C stops)", board, what, timeout.TotalSeconds);
                announced = true;
            }
            // Nothing notifies us of these; a short sleep keeps the wait cheap and Ctrl+C prompt.
            cancellation.WaitHandle.WaitOne(10);
        }
    }
}

using System.Runtime.InteropServices;

namespace AmpCan.Host.Commands;

/// <summary>
/// SIGTERM for a command that does not run the generic host (remote-sim): it cancels <see cref="Token"/> instead of
/// killing the process. The handler is registered on first use and stays for the life of the process, so a signal that
/// arrives while the command is already stopping still ends it cleanly (exit 0, files removed), not with status 143.
/// </summary>
internal static class ProcessTermination
{
    private static readonly CancellationTokenSource Requested = new();
    private static readonly Lock Gate = new();
    private static PosixSignalRegistration? _registration;

    /// <summary>Cancelled when SIGTERM arrives (registers the handler on first use).</summary>
    public static CancellationToken Token
    {
        get
        {
            lock (Gate)
                _registration ??= PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
                {
                    c.Cancel = true;
                    Requested.Cancel();
                });
            return Requested.Token;
        }
    }
}

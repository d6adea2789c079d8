using AmpCan.Remoteproc.Boards;
using AmpCan.Remoteproc.Firmware;
using AmpCan.Remoteproc.Lifecycle;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AmpCan.Host.Boards;

/// <summary>
/// A board's remote core under a <see cref="RemoteCoreLifecycle"/>, as the board's <c>core</c> section asks: its
/// recovery policy, and a coredump of the remote's memory written (bounded in number) before a crashed session is torn down.
/// </summary>
public static class BoardLifecycle
{
    /// <summary>
    /// The lifecycle of <paramref name="board"/>'s remote, offline: each run is a <see cref="BoardSession"/> started
    /// with <paramref name="host"/>; <paramref name="serve"/> (if given) puts the service's own users on each new session.
    /// </summary>
    public static RemoteCoreLifecycle Create(BoardDescriptor board, BoardHostOptions host, BoardSessionOptions? session = null,
        Func<BoardSession, BoardSession>? serve = null, RemoteCoreLifecycleOptions? options = null)
    {
        ILoggerFactory loggers = host.Loggers ?? NullLoggerFactory.Instance;
        ILogger logger = loggers.CreateLogger("AmpCan.Remoteproc");
        CoreSpec spec = board.EffectiveCore;
        var lifecycle = new RemoteCoreLifecycle(board.Name, (mode, ct) =>
        {
            BoardSession s = BoardSession.Start(board, host, session, mode, ct);
            try { return serve is null ? s : serve(s); }
            catch
            {
                s.Dispose();
                throw;
            }
        }, (options ?? new RemoteCoreLifecycleOptions()) with { Recovery = spec.Recovery }, logger);
        if (spec.Coredump.Mode == CoredumpMode.Enabled)
        {
            var dumps = new CoredumpDirectory(spec.Coredump.Directory!, CoredumpMode.Enabled, spec.Coredump.MaxFiles, logger);
            lifecycle.Crashing += (s, _) => ((BoardSession)s).WriteCoredump(dumps);
        }
        return lifecycle;
    }
}

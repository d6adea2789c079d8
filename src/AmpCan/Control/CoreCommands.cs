using AmpCan.Host.Boards;
using AmpCan.Remoteproc.Lifecycle;
using AmpCan.SharedMem.Diagnostics;

namespace AmpCan.Host.Control;

/// <summary>
/// Carries out a control request on the service's cores (<see cref="RemoteCoreLifecycle"/>): <c>status</c> reports,
/// <c>start</c>, <c>stop</c>, <c>recover</c>, <c>crash</c>, <c>attach</c> and <c>detach</c> are the lifecycle's own transitions,
/// whose refusals (recover an offline core, detach where it is not served) come back as the error.
/// </summary>
public static class CoreCommands
{
    /// <summary>
    /// Runs <paramref name="request"/> on <paramref name="cores"/> (the board's, in its order) and says how it went;
    /// never throws but for <paramref name="cancellation"/> (the service stopping) while a start or recovery waits.
    /// </summary>
    public static ControlResponse Execute(ControlRequest request, IReadOnlyList<RemoteCoreLifecycle> cores, CancellationToken cancellation)
    {
        IReadOnlyList<RemoteCoreLifecycle> chosen;
        try { chosen = Choose(request, cores); }
        catch (ControlRequestException e) { return ControlResponse.Failure(e.Message); }
        if (request.Command == "status") return ControlResponse.Success([.. chosen.Select(Status)]);

        RemoteCoreLifecycle core = chosen[0];
        try
        {
            switch (request.Command)
            {
                case "start": core.Start(cancellation); break;
                case "stop": core.Stop(); break;
                case "recover": core.Recover(cancellation); break;
                case "crash":
                    // Answered once the crashed session is torn down (its files gone), so that a script's next call sees it.
                    if (!core.ReportCrash("crash reported through the control socket").Wait(TimeSpan.FromSeconds(30), cancellation))
                        return ControlResponse.Failure($"crash remote {core.CoreName}: reported, not torn down within 30 s");
                    break;
                case "attach": core.Attach(cancellation); break;
                case "detach": core.Detach(); break;
                default: return ControlResponse.Failure($"unknown command '{PeerText.Escape(request.Command)}' (the commands are {string.Join(", ", ControlProtocol.Commands)})");
            }
        }
        catch (ObjectDisposedException)
        {
            return ControlResponse.Failure($"cannot {request.Command} remote {core.CoreName}: the service is stopping");
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            return ControlResponse.Failure($"{request.Command} remote {core.CoreName}: cut short, the service is stopping");
        }
        catch (Exception e)
        {
            // The lifecycle's refusals name the core and its state; a failed boot names why (board, firmware, remote).
            string said = e.Message.Contains(core.CoreName, StringComparison.Ordinal) ? e.Message : $"{request.Command} remote {core.CoreName}: {e.Message}";
            return new ControlResponse(false, said, [Status(core)]);
        }
        return ControlResponse.Success([Status(core)]);
    }

    /// <summary>What <paramref name="core"/> is now.</summary>
    public static CoreStatus Status(RemoteCoreLifecycle core) => new(
        core.CoreName,
        RemoteCoreLifecycle.Name(core.State),
        core.Crashes,
        core.LastCrash,
        core.LastRecoveryTime is TimeSpan t ? Math.Round(t.TotalMilliseconds, 1) : null,
        Channels(core.Session));

    // The rpmsg channels the remote announced (names it chose: JSON escapes them, the human output escapes them again).
    private static IReadOnlyList<string> Channels(IRemoteCoreSession? session)
    {
        if (session is not BoardSession board) return [];
        try { return [.. board.Host.Rpmsg.Channels.Select(c => c.Name)]; }
        catch (ObjectDisposedException) { return []; } // torn down (a crash, a stop) while we looked
    }

    // The cores a request is for: the one named, else every core for status, else the only one.
    private static IReadOnlyList<RemoteCoreLifecycle> Choose(ControlRequest request, IReadOnlyList<RemoteCoreLifecycle> cores)
    {
        if (request.Core is string name)
        {
            RemoteCoreLifecycle? match = cores.FirstOrDefault(c => c.CoreName == name) ?? cores.FirstOrDefault(c => ShortName(c.CoreName) == name);
            if (match is null)
                throw new ControlRequestException(cores.Count == 0 ? $"no core '{PeerText.Escape(name)}': the board is not up yet"
                    : $"no core '{PeerText.Escape(name)}' (the cores: {Names(cores)})");
            return [match];
        }
        if (request.Command == "status" || cores.Count == 1) return cores;
        if (cores.Count == 0) throw new ControlRequestException($"cannot {request.Command}: the board is not up yet (no cores)");
        throw new ControlRequestException($"cannot {request.Command}: the board has {cores.Count} cores ({Names(cores)}); name one");
    }

    // A core of a multi-core board is "board/core"; its short name is what the board file calls it.
    private static string ShortName(string name) => name[(name.LastIndexOf('/') + 1)..];

    private static string Names(IReadOnlyList<RemoteCoreLifecycle> cores) => string.Join(", ", cores.Select(c => c.CoreName));
}

using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Boards;
using AmpCan.Remoteproc.Firmware;
using AmpCan.Remoteproc.Lifecycle;
using AmpCan.Remoteproc.Trace;
using AmpCan.Rpmsg;
using AmpCan.SharedMem;
using AmpCan.Vring;

namespace AmpCan.Host.Boards;

/// <summary>How a board session watches its remote for a crash.</summary>
public sealed record BoardSessionOptions
{
    /// <summary>How often the health checks run.</summary>
    public TimeSpan CheckInterval { get; init; } = TimeSpan.FromMilliseconds(50);
    /// <summary>
    /// How long the host's transmit ring may hold buffers the remote does not use before that is a crash; null (default):
    /// the board's <c>core.watchdogMs</c>, else 5 s.
    /// </summary>
    public TimeSpan? StallPeriod { get; init; }
    /// <summary>Where the remote's trace buffers are written as text files (<c>ampcan trace</c> reads them); null: not at all.</summary>
    public string? TraceDirectory { get; init; }
    /// <summary>The clock (tests move their own).</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;
}

/// <summary>
/// One run of a board's remote core as <see cref="RemoteCoreLifecycle"/> sees it: the <see cref="BoardHost"/> (memory,
/// doorbell, the remote started, rpmsg and CAN served) and the watch for its crash: a vdev status of DEVICE_NEEDS_RESET
/// or FAILED, the rpmsg transmit ring stalled, the remote process gone, the remote's doorbell closed, the rpmsg device failed.
/// </summary>
public sealed class BoardSession : IRemoteCoreSession
{
    private readonly CoreCrashWatch _watch;
    private readonly TraceLog? _trace;

    private BoardSession(BoardHost host, BoardSessionOptions options)
    {
        Host = host;
        var checks = new List<ICoreHealthCheck> { new VdevStatusCheck(host.ResourceTable) };
        VdevResource vdev = host.ResourceTable.Vdevs.First(v => v.DeviceId == VirtioRpmsg.DeviceId);
        VringResource tx = vdev.Vring(1); // virtio_rpmsg_bus: vq 0 receives, vq 1 transmits
        IoRegion ring = host.Memory.Window(tx.DeviceAddress, VringLayout.LegacySize((int)tx.QueueSize, tx.Align));
        // The board's watchdog period bounds a stall too, unless the session was given its own.
        TimeSpan stall = options.StallPeriod
            ?? (host.Board.EffectiveCore.WatchdogMs > 0 ? TimeSpan.FromMilliseconds(host.Board.EffectiveCore.WatchdogMs) : TimeSpan.FromSeconds(5));
        checks.Add(new RingStallCheck("the rpmsg transmit ring", ring, (int)tx.QueueSize, tx.Align, stall));
        if (host.RemoteProcess is { } process) checks.Add(new RemoteProcessCheck(process));
        CoreSpec core = host.Board.EffectiveCore;
        if (core.Heartbeat is ulong beat)
            checks.Add(new HeartbeatCheck(host.Memory.Window(beat, 4), TimeSpan.FromMilliseconds(core.WatchdogMs)) { Where = $"0x{beat:x} (core.heartbeat)" });
        _watch = new CoreCrashWatch(checks, options.CheckInterval, options.Time);
        if (options.TraceDirectory is string traces && host.ResourceTable.Traces.Count > 0)
            _trace = TraceLog.Start(host.Board.Name, host.ResourceTable.Traces, host.Memory, new TraceLogOptions { Directory = traces, Time = options.Time },
                host.Loggers);
        host.Rpmsg.PeerLeft += _ => _watch.Report("the remote left: its doorbell closed");
        host.Rpmsg.DeviceFailed += e => _watch.Report($"the rpmsg device failed: {e.Message}");
    }

    /// <summary>The board as this run serves it.</summary>
    public BoardHost Host { get; }

    /// <inheritdoc/>
    public Task<string> Crashed => _watch.Crashed;

    /// <summary>Boots the board's remote and serves it, or (<paramref name="mode"/> attach) serves one that already runs, taking its devices over as they stand.</summary>
    public static BoardSession Start(BoardDescriptor board, BoardHostOptions host, BoardSessionOptions? options, CoreStartMode mode, CancellationToken cancellation)
    {
        BoardHost started = BoardHost.Start(board, host with { Attach = mode == CoreStartMode.Attach }, cancellation);
        try
        {
            return new BoardSession(started, options ?? new BoardSessionOptions());
        }
        catch
        {
            started.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public string? CannotDetach => Host.CannotDetach;

    /// <inheritdoc/>
    /// <remarks>The remote must run on its own (<see cref="BoardHost.Detach"/>); its rings and channels go to the attach record.</remarks>
    public void Detach()
    {
        _watch.Dispose();
        _trace?.Dispose();
        Host.Detach();
    }

    /// <summary>
    /// Writes an ELF core file of the remote's memory as this host maps it, as Linux's rproc_coredump does: one PT_LOAD
    /// per region of the core at its device address (an alias is the same memory, so it is dumped once, under the region
    /// it aliases), the registers unknown. e_machine and e_entry are those of the image the host loaded into a real core;
    /// EM_NONE and 0 otherwise (a simulated core runs no image, and one the kernel or a bootloader started may run
    /// another than the file the board names).
    /// </summary>
    public CoredumpResult WriteCoredump(CoredumpDirectory dumps)
    {
        CoreDumpSegment[] regions = [.. Host.Board.EffectiveRegions.Where(r => r.AliasOf is null)
            .Select(r => new CoreDumpSegment(r.DeviceAddress, Host.Regions.Window(r.Name)))];
        ushort machine = Host.Core?.LoadedMachine ?? 0;
        ulong entry = Host.Core is { LoadedMachine: not null, Loaded: { } loaded } ? loaded.Entry : 0;
        return dumps.Write(Host.Board.Name, machine, entry, regions);
    }

    /// <summary>Tears everything down, the remote included.</summary>
    public void Dispose()
    {
        _watch.Dispose();
        _trace?.Dispose(); // before the memory goes: it reads the remote's last words first
        Host.Dispose();
    }

    // A simulated remote in a process of its own: the process ending is the core crashing.
    private sealed class RemoteProcessCheck(Simulation.SimulatedRemoteProcess process) : ICoreHealthCheck
    {
        public string? Check(TimeSpan sinceLast) => process.ExitCode is int code ? $"the remote process exited (code {code})" : null;
    }
}

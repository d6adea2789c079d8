using AmpCan.Remoteproc.Simulation;
using AmpCan.Rpmsg;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AmpCan.Remoteproc.Boards;

/// <summary>How to run a board on this host.</summary>
public sealed record BoardHostOptions
{
    /// <summary>Where the remote runs, overriding the board file.</summary>
    public RemoteKind? Remote { get; init; }
    /// <summary>The board file's path (a remote process reads it too).</summary>
    public string? BoardPath { get; init; }
    /// <summary>The ampcan executable or assembly, to start <c>ampcan remote-sim</c> as a process.</summary>
    public string? AmpcanPath { get; init; }
    /// <summary>Overrides the board's notification mode.</summary>
    public NotificationMode? Mode { get; init; }
    /// <summary>Loggers.</summary>
    public ILoggerFactory? Loggers { get; init; }
    /// <summary>Pin the host loop to CPU 0 and an in-process simulated remote's loop to CPU 1 (benchmarks).</summary>
    public bool PinLoops { get; init; }
    /// <summary>Replaces the simulated remote's firmware (features, services) for an in-process remote.</summary>
    public SimulatedFirmware? Firmware { get; init; }
    /// <summary>Scripted misbehaviour of a simulated remote, in-process or in its own process.</summary>
    public SimulatedRemoteScript? RemoteScript { get; init; }
}

/// <summary>
/// The host side of one board, running: shared memory mapped, doorbell connected, the remote started (simulated
/// in-process, as a process, or external), its resource table read and the rpmsg host past DRIVER_OK on the
/// board's event loop.
/// </summary>
public sealed class BoardHost : IDisposable
{
    private readonly List<IDisposable> _owned = [];
    private readonly ILogger _logger;

    private BoardHost(BoardDescriptor board, ILogger logger)
    {
        Board = board;
        _logger = logger;
    }

    /// <summary>The board description.</summary>
    public BoardDescriptor Board { get; }

    /// <summary>The host's mapping of the shared memory.</summary>
    public MappedRegion SharedMemory { get; private set; } = null!;

    /// <summary>The remote's resource table.</summary>
    public ResourceTable ResourceTable { get; private set; } = null!;

    /// <summary>The rpmsg device (host role).</summary>
    public VirtioRpmsgHost Rpmsg { get; private set; } = null!;

    /// <summary>The board's event loop.</summary>
    public NotificationLoop Loop { get; private set; } = null!;

    /// <summary>The in-process simulated remote, if that is what runs.</summary>
    public SimulatedRemote? SimulatedRemote { get; private set; }

    /// <summary>The remote process, if the simulated remote runs as one.</summary>
    public SimulatedRemoteProcess? RemoteProcess { get; private set; }

    /// <summary>Brings the board up; on failure everything started so far is torn down and the error names the step.</summary>
    public static BoardHost Start(BoardDescriptor board, BoardHostOptions? options = null, CancellationToken cancellation = default)
    {
        options ??= new BoardHostOptions();
        ILoggerFactory loggers = options.Loggers ?? NullLoggerFactory.Instance;
        var host = new BoardHost(board, loggers.CreateLogger($"AmpCan.Board.{board.Name}"));
        try
        {
            host.Bring(options, loggers, cancellation);
            return host;
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }

    private T Own<T>(T d) where T : IDisposable
    {
        _owned.Add(d);
        return d;
    }

    private void Bring(BoardHostOptions options, ILoggerFactory loggers, CancellationToken cancellation)
    {
        RemoteKind remote = options.Remote ?? Board.Remote.Kind;
        TimeSpan timeout = TimeSpan.FromSeconds(Board.Remote.StartTimeoutSeconds);
        SharedMemorySpec m = Board.SharedMemory;
        bool remoteCreatesFile = m.Kind == SharedMemoryKind.File && remote != RemoteKind.Simulated;

        if (remote == RemoteKind.SimulatedProcess && !(m.Kind == SharedMemoryKind.Memfd && Board.Doorbell.Kind is DoorbellKind.EventFd or DoorbellKind.Polling))
        {
            // Like OpenAMP's remote: it creates the file and listens for the host.
            RemoteProcess = Own(SimulatedRemoteProcess.Start(Require(options.AmpcanPath, "an ampcan path to start the remote process"),
                Require(options.BoardPath, "the board file path for the remote process"), null, null, timeout, options.RemoteScript));
        }

        SharedMemory = Own(m.Kind switch
        {
            SharedMemoryKind.Memfd => MappedRegion.CreateMemfd($"ampcan-{Board.Name}", m.Size, m.DeviceAddress),
            SharedMemoryKind.File => remoteCreatesFile ? WaitForFile(m, timeout, cancellation) : MappedRegion.MapFile(m.Path!, m.Size, m.DeviceAddress, create: true),
            SharedMemoryKind.DevMem => MappedRegion.MapPhysical(m.PhysicalAddress, m.Size, m.DeviceAddress),
            _ => MappedRegion.MapUio(m.UioDevice, m.UioMap, m.DeviceAddress),
        });
        _logger.LogInformation("board {Board}: shared memory {Region}", Board.Name, SharedMemory);

        Doorbell bell;
        Doorbell? remoteBell = null;
        switch (Board.Doorbell.Kind)
        {
            case DoorbellKind.EventFd:
                var (h, r) = EventFdDoorbell.CreatePair();
                bell = Own(h);
                remoteBell = Own(r);
                break;
            case DoorbellKind.Polling:
                bell = Own(new PollingDoorbell());
                remoteBell = Own(new PollingDoorbell());
                break;
            case DoorbellKind.Uio:
                MappedRegion regs = Own(MappedRegion.MapUio(Board.Doorbell.UioDevice, Board.Doorbell.MailboxMap));
                bell = Own(new UioDoorbell($"/dev/uio{Board.Doorbell.UioDevice}",
                    new MailboxRegister(regs.Io, Board.Doorbell.MailboxOffset, (uint)Board.Doorbell.MailboxValue, Board.Doorbell.MailboxNotifyIdShift)));
                break;
            default:
                bell = null!;
                break;
        }

        SimulatedFirmware firmware = (options.Firmware ?? new SimulatedFirmware { EchoService = Board.Remote.EchoService }) with { TableOffset = Board.ResourceTable.Offset };
        int remoteCpu = options.PinLoops ? 1 : -1;
        NotificationMode mode = options.Mode ?? Board.Notification.Mode;
        if (remote == RemoteKind.Simulated)
        {
            MappedRegion remoteView = Own(SharedMemory.MapAgain());
            if (Board.Doorbell.Kind == DoorbellKind.UnixSocket)
            {
                // The simulated remote writes its table, then listens, as OpenAMP's remote does.
                remoteView.Io.Write(firmware.TableOffset, firmware.ResourceTable(remoteView.DeviceAddress));
                Task<UnixSocketDoorbell> accept = Task.Run(() => UnixSocketDoorbell.Accept(Board.Doorbell.Path!, timeout, cancellation));
                bell = Own(UnixSocketDoorbell.Connect(Board.Doorbell.Path!, timeout));
                remoteBell = Own(accept.GetAwaiter().GetResult());
                SimulatedRemote = Own(new SimulatedRemote(remoteView.Io, remoteBell, firmware, mode, loggers.CreateLogger("AmpCan.RemoteSim"), remoteCpu, options.RemoteScript));
                SimulatedRemote.Boot(timeout, writeTable: false);
            }
            else
            {
                if (remoteBell is null) throw new BoardException($"board '{Board.Name}': a simulated remote cannot use a {Board.Doorbell.Kind} doorbell");
                SimulatedRemote = Own(new SimulatedRemote(remoteView.Io, remoteBell, firmware, mode, loggers.CreateLogger("AmpCan.RemoteSim"), remoteCpu, options.RemoteScript));
                SimulatedRemote.Boot(timeout);
            }
        }
        else if (remote == RemoteKind.SimulatedProcess && RemoteProcess is null)
        {
            RemoteProcess = Own(SimulatedRemoteProcess.Start(Require(options.AmpcanPath, "an ampcan path to start the remote process"),
                Require(options.BoardPath, "the board file path for the remote process"), SharedMemory, remoteBell as EventFdDoorbell, timeout, options.RemoteScript));
        }
        if (Board.Doorbell.Kind == DoorbellKind.UnixSocket && bell is null)
            bell = Own(UnixSocketDoorbell.Connect(Board.Doorbell.Path!, timeout));

        ResourceTable = WaitForTable(timeout, cancellation);
        VdevResource vdev = ResourceTable.Vdevs.FirstOrDefault(v => v.DeviceId == VirtioRpmsg.DeviceId)
            ?? throw new BoardException($"board '{Board.Name}': the remote's resource table has no rpmsg vdev");

        Loop = Own(new NotificationLoop($"ampcan-{Board.Name}", mode, TimeSpan.FromMicroseconds(Board.Notification.SpinMicroseconds), loggers.CreateLogger("AmpCan.Loop")));
        Loop.DoorbellFailed += (d, e) => _logger.LogError("board {Board}: doorbell {Doorbell} lost: {Reason}", Board.Name, d, e.Message);
        var opts = new RpmsgHostOptions
        {
            RxBufferCount = Board.Rpmsg.RxBuffers, TxBufferCount = Board.Rpmsg.TxBuffers,
            RxBufferSize = Board.Rpmsg.BufferSize, TxBufferSize = Board.Rpmsg.BufferSize,
        };
        IoRegion pool = SharedMemory.Io.Slice(Board.Rpmsg.BufferPoolOffset, opts.PoolSize);
        Rpmsg = Own(RpmsgVdev.CreateHost("rpmsg0", vdev, new MemoryMap(SharedMemory.Io), pool, bell, opts, loggers.CreateLogger("AmpCan.Rpmsg")));
        Loop.Start(options.PinLoops ? 0 : -1);
        Rpmsg.Start(Loop);
    }

    private static string Require(string? value, string what) =>
        value ?? throw new BoardException($"starting the remote as a process needs {what}");

    private MappedRegion WaitForFile(SharedMemorySpec m, TimeSpan timeout, CancellationToken cancellation)
    {
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (true)
        {
            try { return MappedRegion.MapFile(m.Path!, m.Size, m.DeviceAddress); }
            catch (SharedMemoryException e) when (Environment.TickCount64 < deadline && !cancellation.IsCancellationRequested)
            {
                _logger.LogDebug("board {Board}: waiting for the remote to create {Path}: {Reason}", Board.Name, m.Path, e.Message);
                Thread.Sleep(20); // the remote creates the file; nothing notifies us of that
            }
            catch (SharedMemoryException e)
            {
                throw new BoardException($"board '{Board.Name}': the remote did not provide {m.Path} within {timeout.TotalSeconds:F0} s (is it running?): {e.Message}");
            }
        }
    }

    private ResourceTable WaitForTable(TimeSpan timeout, CancellationToken cancellation)
    {
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        IoRegion window = SharedMemory.Io.Slice(Board.ResourceTable.Offset, Board.ResourceTable.Size);
        while (true)
        {
            try
            {
                ResourceTable t = ResourceTable.Parse(window);
                if (t.Vdevs.Count > 0) return t;
                if (Environment.TickCount64 > deadline) throw new BoardException($"board '{Board.Name}': the resource table at 0x{Board.ResourceTable.Offset:x} declares no vdev");
            }
            catch (ResourceTableException e) when (Environment.TickCount64 <= deadline && !cancellation.IsCancellationRequested)
            {
                _logger.LogDebug("board {Board}: no valid resource table yet: {Reason}", Board.Name, e.Message);
            }
            catch (ResourceTableException e)
            {
                throw new BoardException($"board '{Board.Name}': no valid resource table at 0x{Board.ResourceTable.Offset:x} within {timeout}: {e.Message}");
            }
            Thread.Sleep(10); // the remote writes its table when it boots; nothing notifies us of that
        }
    }

    /// <summary>Stops everything in reverse order of start.</summary>
    public void Dispose()
    {
        for (int i = _owned.Count - 1; i >= 0; i--)
        {
            try { _owned[i].Dispose(); }
            catch (Exception e) { _logger.LogWarning(e, "board {Board}: error while stopping", Board.Name); }
        }
        _owned.Clear();
    }
}

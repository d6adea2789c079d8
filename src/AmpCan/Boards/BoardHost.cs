using AmpCan.Host.Service;
using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Boards;
using AmpCan.Remoteproc.Firmware;
using AmpCan.Remoteproc.Lifecycle.Mechanisms;
using AmpCan.Rpmsg;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Simulation;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AmpCan.Host.Boards;

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
    /// <summary>
    /// A firmware ELF the host loads into the shared memory before an in-process simulated core boots: the core then
    /// reads its resource table from where the image's <c>.resource_table</c> put it, as a real core would.
    /// </summary>
    public string? FirmwareImage { get; init; }
    /// <summary>
    /// Attach to a remote that already runs instead of starting one: its vdevs are taken over as they stand (never reset or
    /// zeroed), with the attach record from <see cref="StateDirectory"/> when the host before left one.
    /// </summary>
    public bool Attach { get; init; }
    /// <summary>Where each core's attach record is kept (channels always, rings at a detach); null: none kept.</summary>
    public string? StateDirectory { get; init; }
    /// <summary>Binds the service's rpmsg drivers on the new bus before it receives anything (so a take-over loses nothing meant for them).</summary>
    public Action<VirtioRpmsgHost>? BindRpmsg { get; init; }
    /// <summary>Where dev-mem regions and register windows are mapped from: /dev/mem, or a file standing in for it (offset = physical address).</summary>
    public string PhysicalMemoryPath { get; init; } = "/dev/mem";
    /// <summary>Where a sysfs-remoteproc core's files are; null: the kernel's.</summary>
    public SysfsRemoteprocOptions? Sysfs { get; init; }
}

/// <summary>
/// The host side of one board's core, running: its regions mapped (<see cref="CoreMemory"/>), its mailbox channels open
/// (<see cref="CoreMailboxes"/>), the remote started (simulated in-process, as a process, a real core through its
/// mechanism (<see cref="CoreBoot"/>), or external), its resource table read where the board puts it and the rpmsg host
/// past DRIVER_OK on the board's event loop.
/// </summary>
public sealed class BoardHost : IDisposable
{
    private readonly DisposalStack _owned;
    private readonly ILogger _logger;
    private AttachRecordFile? _record;
    private int _rpmsgVdev;

    private BoardHost(BoardDescriptor board, ILogger logger)
    {
        Board = board;
        _logger = logger;
        _owned = new DisposalStack(logger, $"board {board.Name}");
    }

    /// <summary>The board description.</summary>
    public BoardDescriptor Board { get; }

    /// <summary>The loggers the board was started with.</summary>
    public ILoggerFactory Loggers { get; private set; } = NullLoggerFactory.Instance;

    /// <summary>The host's mapping of the shared memory.</summary>
    public MappedRegion SharedMemory { get; private set; } = null!;

    /// <summary>Every region of the core, mapped.</summary>
    public CoreMemory Regions { get; private set; } = null!;

    /// <summary>The core's mailbox channels.</summary>
    public CoreMailboxes Mailboxes { get; private set; } = null!;

    /// <summary>The real core's boot through its mechanism, or null when the remote is simulated or external.</summary>
    public CoreBoot? Core { get; private set; }

    /// <summary>The remote's resource table.</summary>
    public ResourceTable ResourceTable { get; private set; } = null!;

    /// <summary>The rpmsg device (host role).</summary>
    public VirtioRpmsgHost Rpmsg { get; private set; } = null!;

    /// <summary>The CAN controllers shared with the remote (virtio-can devices the remote's drivers use).</summary>
    public BoardCanControllers Can { get; private set; } = null!;

    /// <summary>The core's regions at their device addresses, as the remote's table gives them.</summary>
    public MemoryMap Memory { get; private set; } = null!;

    /// <summary>The board's event loop.</summary>
    public NotificationLoop Loop { get; private set; } = null!;

    /// <summary>True when the remote was found running and its rpmsg device taken over (attach), false when it was brought up.</summary>
    public bool TakenOver { get; private set; }

    /// <summary>The in-process simulated remote, if that is what runs.</summary>
    public SimulatedRemote? SimulatedRemote { get; private set; }

    /// <summary>The remote process, if the simulated remote runs as one.</summary>
    public SimulatedRemoteProcess? RemoteProcess { get; private set; }

    /// <summary>Brings the board up; on failure everything started so far is torn down and the error names the step.</summary>
    public static BoardHost Start(BoardDescriptor board, BoardHostOptions? options = null, CancellationToken cancellation = default)
    {
        options ??= new BoardHostOptions();
        ILoggerFactory loggers = options.Loggers ?? NullLoggerFactory.Instance;
        var host = new BoardHost(board, loggers.CreateLogger($"AmpCan.Board.{board.Name}")) { Loggers = loggers };
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

    private T Own<T>(T d) where T : IDisposable => _owned.Push(d);

    private void Bring(BoardHostOptions options, ILoggerFactory loggers, CancellationToken cancellation)
    {
        RemoteKind remote = options.Remote ?? Board.Remote.Kind;
        TimeSpan timeout = TimeSpan.FromSeconds(Board.Remote.StartTimeoutSeconds);
        SharedMemorySpec m = Board.SharedMemory;
        if (remote == RemoteKind.External && m.Kind == SharedMemoryKind.Memfd)
            throw new BoardException($"board '{Board.Name}': an external remote cannot reach memfd shared memory (only a process of ours can be handed it, so nobody " +
                "would ever write the resource table); use a board with file, devmem or uio shared memory, or --remote simulated / simulated-process");
        if (options.Attach && remote != RemoteKind.External)
            throw new BoardException($"board '{Board.Name}': attaching needs a remote that runs on its own (external, or a core a bootloader or the kernel started); " +
                $"this one is {remote}, which this host would start itself");
        if (remote == RemoteKind.Simulated && !Board.ResourceTable.InSharedMemory && options.FirmwareImage is null)
            throw new BoardException($"board '{Board.Name}': a simulated remote writes its resource table in the shared memory, but the board puts it " +
                (Board.ResourceTable.InImage ? "where the firmware image's section lands" : $"in region '{Board.ResourceTable.Region}'") + "; give it a firmware image to load");
        // One host per board (and, for an in-process simulated remote, one remote): refused at once, naming the holder.
        if (BoardInstanceLock.Acquire(Board, BoardInstanceLock.Role.Host) is InstanceLock hostLock) Own(hostLock);
        if (remote == RemoteKind.Simulated && BoardInstanceLock.Acquire(Board, BoardInstanceLock.Role.Remote) is InstanceLock remoteLock) Own(remoteLock);

        if (remote == RemoteKind.SimulatedProcess && !(m.Kind == SharedMemoryKind.Memfd && Board.Doorbell.Kind is DoorbellKind.EventFd or DoorbellKind.Polling))
        {
            // Like OpenAMP's remote: it creates the file and listens for the host.
            RemoteProcess = Own(SimulatedRemoteProcess.Start(Require(options.AmpcanPath, "an ampcan path to start the remote process"),
                Require(options.BoardPath, "the board file path for the remote process"), null, null, timeout, options.RemoteScript));
        }

        Regions = Own(CoreMemory.Open(Board, new CoreMemoryOptions { OpenExistingFiles = remote != RemoteKind.Simulated, FileWait = timeout, PhysicalMemoryPath = options.PhysicalMemoryPath },
            _logger, cancellation));
        SharedMemory = Regions.SharedMemory;
        Memory = Regions.Map;
        Mailboxes = Own(CoreMailboxes.Open(Board, _logger));

        SimulatedFirmware firmware = (options.Firmware ?? SimulatedFirmware.For(Board)) with { TableOffset = Board.ResourceTable.Offset };
        ResourceTableSection? loadedTable = null;
        if (options.FirmwareImage is string image)
        {
            if (remote != RemoteKind.Simulated)
                throw new BoardException($"board '{Board.Name}': a firmware image is loaded for the in-process simulated remote only (this one is {remote})");
            loadedTable = LoadFirmware(image);
            firmware = firmware with { TableOffset = ResourceTablePlace.OffsetInSharedMemory(Board, SharedMemory, loadedTable, image) };
        }
        int remoteCpu = options.PinLoops ? 1 : -1;
        // A polled channel (one the kernel keeps, or the board's single doorbell of kind polling) wakes nobody: the loop
        // must spin to see what the remote announces on it, whatever mode was asked for (a parked loop would never wake).
        NotificationMode asked = options.Mode ?? Board.Notification.Mode, mode = Mailboxes.Polled ? NotificationMode.Polling : asked;
        if (mode != asked) _logger.LogInformation("board {Board}: the event loop polls, not {Asked}: a channel from the remote is polled, and nothing would wake a parked loop", Board.Name, asked);
        if (remote == RemoteKind.Simulated)
            StartSimulatedRemote(firmware, mode, remoteCpu, loadedTable is not null, options, loggers, timeout, cancellation);
        else if (remote == RemoteKind.SimulatedProcess && RemoteProcess is null)
        {
            RemoteProcess = Own(SimulatedRemoteProcess.Start(Require(options.AmpcanPath, "an ampcan path to start the remote process"),
                Require(options.BoardPath, "the board file path for the remote process"), SharedMemory, Mailboxes.RemoteEnd as EventFdDoorbell, timeout, options.RemoteScript));
        }
        else if (remote == RemoteKind.External && Board.EffectiveCore.Mechanism is CoreMechanism.DevmemRegisters or CoreMechanism.SysfsRemoteproc or CoreMechanism.AttachOnly)
        {
            Core = Own(CoreBoot.Start(Board, Regions, new CoreBootOptions { PhysicalMemoryPath = options.PhysicalMemoryPath, Sysfs = options.Sysfs,
                RpmsgPoolSize = (rx, tx) => HostOptions(rx, tx).PoolSize }, _logger, cancellation));
            if (Board.ResourceTable.InImage) loadedTable = Core.TableSection;
        }
        Mailboxes.ConnectSockets(s => ConnectDoorbell(s.Path!, timeout, cancellation));

        IoRegion tableWindow = ResourceTablePlace.Window(Board, Regions, loadedTable, firmware.TableOffset);
        ResourceTable = WaitForTable(tableWindow, timeout, cancellation);
        if (Board.EffectiveCore.Mechanism == CoreMechanism.SysfsRemoteproc) KernelVringPlacement.Apply(Board, ResourceTable, _logger);
        foreach (SkippedResource skipped in ResourceTable.Skipped)
            _logger.LogWarning("board {Board}: resource table: {Skipped}", Board.Name, skipped.Description);
        VdevResource vdev = ResourceTable.Vdevs.FirstOrDefault(v => v.DeviceId == VirtioRpmsg.DeviceId)
            ?? throw new BoardException($"board '{Board.Name}': the remote's resource table has no rpmsg vdev");
        if (vdev.QueueCount < 2)
            throw new BoardException($"board '{Board.Name}': the remote's rpmsg vdev {vdev.Index} has {vdev.QueueCount} vrings; it needs 2");

        RpmsgHostOptions opts = HostOptions((int)vdev.Vring(0).QueueSize, (int)vdev.Vring(1).QueueSize);
        if (Board.Regions is null) BoardLayout.Check(Board, ResourceTable, opts.PoolSize);
        else CoreLayout.Check(Board, ResourceTable, opts.PoolSize, Memory);
        Mailboxes.CheckRoutes(ResourceTable);
        Loop = Own(new NotificationLoop($"ampcan-{RemoteFileNames.Safe(Board.Name)}", mode, TimeSpan.FromMicroseconds(Board.Notification.SpinMicroseconds), loggers.CreateLogger("AmpCan.Loop")));
        // The remote left (its socket closed): an ordinary event, said once by the device; anything else is an error.
        Loop.DoorbellFailed += (d, e) => { if (e is not DoorbellClosedException) _logger.LogError("board {Board}: doorbell {Doorbell} lost: {Reason}", Board.Name, d, e.Message); };
        Mailboxes.Watch(Loop);
        IoRegion pool = SharedMemory.Io.Slice(Board.Rpmsg.BufferPoolOffset, opts.PoolSize);
        Doorbell bell = Mailboxes.Outgoing;
        var transport = new VdevTransport(vdev, Memory, bell);
        var driver = new VirtioRpmsgDriver("rpmsg0", opts, loggers.CreateLogger("AmpCan.Rpmsg")) { BeforeStart = options.BindRpmsg };
        _rpmsgVdev = vdev.Index;
        // Only a remote that can outlive this host needs a record for the next one.
        if (options.StateDirectory is string states && remote == RemoteKind.External) _record = Own(new AttachRecordFile(states, Board.Name, _logger));
        Loop.Start(options.PinLoops ? 0 : -1);
        AttachRecord? attached = null;
        if (options.Attach)
        {
            attached = _record?.Read(vdev.Index);
            driver.Resume = attached?.Rpmsg;
            TakenOver = transport.AttachDriver(driver, Loop, pool).TakenOver;
        }
        else transport.ProbeDriver(driver, Loop, pool);
        Rpmsg = Own(driver.Bus!);
        // From now on the record says what the remote offers (and no longer where the rings stood: they move on).
        _record?.Track(Rpmsg, vdev.Index);
        // The remote drives these: each device waits in the background for its driver's DRIVER_OK.
        Can = Own(BoardCanControllers.Start(Board, ResourceTable, Memory, bell, Loop, timeout, loggers, options.Attach ? attached?.CanStopped ?? [] : null));
    }

    private void StartSimulatedRemote(SimulatedFirmware firmware, NotificationMode mode, int cpu, bool tableLoaded, BoardHostOptions options, ILoggerFactory loggers,
        TimeSpan timeout, CancellationToken cancellation)
    {
        MappedRegion remoteView = Own(SharedMemory.MapAgain());
        Doorbell remoteBell;
        if (!Mailboxes.Routed && Mailboxes.Channels[0].Kind == DoorbellKind.UnixSocket)
        {
            // The simulated remote writes its table, then listens, as OpenAMP's remote does.
            string path = Mailboxes.Channels[0].Path!;
            remoteView.Io.Write(firmware.TableOffset, firmware.ResourceTable(remoteView.DeviceAddress));
            Task<UnixSocketDoorbell> accept = Task.Run(() => UnixSocketDoorbell.Accept(path, timeout, cancellation));
            Mailboxes.Connected(0, ConnectDoorbell(path, timeout, cancellation));
            remoteBell = Own(accept.GetAwaiter().GetResult());
            tableLoaded = true;
        }
        else
        {
            remoteBell = Mailboxes.RemoteEnd ?? throw new BoardException(Mailboxes.Routed
                ? $"board '{Board.Name}': a simulated remote has one doorbell, and this board kicks through {Mailboxes.Channels.Count} mailbox channels; give it one channel, or only polling ones"
                : $"board '{Board.Name}': a simulated remote cannot use a {Board.Doorbell.Kind} doorbell");
        }
        SimulatedRemote = Own(new SimulatedRemote(remoteView.Io, remoteBell, firmware, mode, loggers.CreateLogger("AmpCan.RemoteSim"), cpu, options.RemoteScript));
        SimulatedRemote.Boot(timeout, writeTable: !tableLoaded);
    }

    // The board's counts where it gives them, Linux's choice from the ring sizes where it does not.
    private RpmsgHostOptions HostOptions(int rxRing, int txRing)
    {
        try
        {
            return new RpmsgHostOptions
            {
                RxBufferCount = Board.Rpmsg.RxBuffers, TxBufferCount = Board.Rpmsg.TxBuffers,
                RxBufferSize = Board.Rpmsg.BufferSize, TxBufferSize = Board.Rpmsg.BufferSize,
            }.ForRings(rxRing, txRing);
        }
        catch (RpmsgException e) when (e.Error == RpmsgError.InvalidConfiguration)
        {
            throw new BoardException($"board '{Board.Name}': rpmsg: {e.Message} (the remote's resource table sets the ring sizes; set rpmsg.rxBuffers/txBuffers to fit, or leave them out)");
        }
    }

    private static string Require(string? value, string what) =>
        value ?? throw new BoardException($"starting the remote as a process needs {what}");

    private UnixSocketDoorbell ConnectDoorbell(string path, TimeSpan timeout, CancellationToken cancellation) =>
        StartupWait.For<UnixSocketDoorbell>(Board.Name, $"the remote to listen on {path}", timeout, _logger, cancellation, () =>
        {
            try { return (UnixSocketDoorbell.Connect(path, TimeSpan.Zero), null); }
            catch (SharedMemoryException e) { return (null, e.Message); }
        });

    // Copies the image's PT_LOAD segments to their device addresses in the core's regions (nothing written if any does
    // not fit) and returns its resource table section.
    private ResourceTableSection LoadFirmware(string path)
    {
        LoadedFirmware loaded;
        try { loaded = FirmwareLoader.Load(ElfImage.Load(path), Memory); }
        catch (FirmwareException e)
        {
            throw new BoardException($"board '{Board.Name}': firmware {path}: {e.Message}");
        }
        if (loaded.ResourceTable is not { } table)
            throw new BoardException($"board '{Board.Name}': firmware {path} has no {ResourceTableSection.SectionName} section; the remote's devices are described there");
        _logger.LogInformation("board {Board}: firmware {Path} loaded ({Segments} segments, entry 0x{Entry:x}), resource table at 0x{Table:x}",
            Board.Name, path, loaded.Segments.Count, loaded.Entry, table.DeviceAddress);
        return table;
    }

    private ResourceTable WaitForTable(IoRegion window, TimeSpan timeout, CancellationToken cancellation)
    {
        string where = window.Mapping == SharedMemory && window.DeviceAddress >= SharedMemory.DeviceAddress
            ? $"at offset 0x{window.DeviceAddress - SharedMemory.DeviceAddress:x}" : $"at device address 0x{window.DeviceAddress:x} ({window.Name})";
        return StartupWait.For<ResourceTable>(Board.Name, $"the remote's resource table {where}", timeout, _logger, cancellation, () =>
        {
            try
            {
                ResourceTable t = ResourceTable.Parse(window);
                return t.Vdevs.Count > 0 ? (t, null) : (null, "the table declares no vdev");
            }
            catch (ResourceTableException e) { return (null, e.Message); }
        });
    }

    /// <summary>Why <see cref="Detach"/> cannot leave this remote running; null when it can.</summary>
    public string? CannotDetach => SimulatedRemote is not null || RemoteProcess is not null
        ? "the remote was started by this host and stops with it; only a remote that runs on its own (external, attach-only) can be left running" : null;

    /// <summary>
    /// Stops serving and leaves the remote running as it is: the rpmsg device is detached (not reset), its rings and
    /// channels written to the attach record for the next host, and then everything here is torn down; a device the
    /// remote drives (CAN) is left with its status as it was.
    /// </summary>
    /// <exception cref="BoardException">The remote lives in this process or is a process of this host's (it would die with it).</exception>
    public void Detach()
    {
        if (CannotDetach is string why) throw new BoardException($"board '{Board.Name}': {why}");
        RpmsgHostResume resume = Rpmsg.Detach();
        Core?.LeaveRunning();
        _record?.Write(_rpmsgVdev, resume, [.. Can.Controllers.Where(c => !c.Device.IsStarted).Select(c => c.VdevIndex)]);
        _logger.LogInformation("board {Board}: detached; the remote runs on{Record}", Board.Name, _record is null ? " (no state directory: the next host waits for what the rings owe)" : $", its state in {_record.Path}");
        Dispose();
    }

    /// <summary>Stops everything in reverse order of start.</summary>
    public void Dispose() => _owned.Dispose();
}

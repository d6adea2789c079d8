using AmpCan.Host.Service;
using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Boards;
using AmpCan.Remoteproc.Firmware;
using AmpCan.Remoteproc.Lifecycle.Mechanisms;
using AmpCan.SharedMem;
using Microsoft.Extensions.Logging;

namespace AmpCan.Host.Boards;

/// <summary>Where <see cref="CoreBoot"/> finds the kernel's and the hardware's files (tests give stand-ins).</summary>
public sealed record CoreBootOptions
{
    /// <summary>Where a devmem-registers register window is mapped from: /dev/mem, or a file standing in for it.</summary>
    public string PhysicalMemoryPath { get; init; } = "/dev/mem";
    /// <summary>Where a sysfs-remoteproc core's files are (default: the kernel's /sys/class/remoteproc and firmware search path).</summary>
    public SysfsRemoteprocOptions? Sysfs { get; init; }
    /// <summary>
    /// Bytes of the host's rpmsg buffer pool for the rpmsg vdev's (rx, tx) ring sizes, kept clear when the loaded table's
    /// memory is placed; null: everything from rpmsg.bufferPoolOffset to the end of the shared memory is kept clear.
    /// </summary>
    public Func<int, int, ulong>? RpmsgPoolSize { get; init; }
}

/// <summary>
/// A real core brought up through its board's mechanism (<see cref="CoreMechanisms.For"/>), the way Linux's
/// remoteproc boots one: devmem-registers holds the core, the host loads <c>core.firmware</c> into the core's regions
/// (<see cref="FirmwareLoader"/>) and releases it; sysfs-remoteproc has the kernel load and start it; a core that already
/// runs (attach-only, or one the kernel booted) is attached to as it is. Between loading and releasing, the loaded
/// resource table's carveouts and vrings are placed and its notify ids assigned (<see cref="CoreTablePlacement"/>), as
/// Linux's remoteproc does before it starts a core; the kernel does that itself for sysfs-remoteproc, and a core found
/// running keeps its table as it is (re-placing rings under a running core would pull them from under it). Disposing stops a core this host started and
/// leaves one it found running (detach), so that a session ending ends what it began and nothing else.
/// </summary>
public sealed class CoreBoot : IDisposable
{
    private readonly DisposalStack _owned;
    private readonly ILogger _logger;
    private readonly string _board;
    private bool _foundRunning;

    private CoreBoot(ICoreMechanism mechanism, DisposalStack owned, ILogger logger, string board)
    {
        Mechanism = mechanism;
        _owned = owned;
        _logger = logger;
        _board = board;
    }

    /// <summary>The mechanism that starts and stops the core.</summary>
    public ICoreMechanism Mechanism { get; }

    /// <summary>What the host loaded into the core's memory (devmem-registers), or null.</summary>
    public LoadedFirmware? Loaded { get; private set; }

    /// <summary>e_machine of the image the host loaded (<see cref="Loaded"/>), for a core dump; null when it loaded none.</summary>
    public ushort? LoadedMachine { get; private set; }

    /// <summary>What the host placed in the loaded table before releasing the core (devmem-registers with the table in the image), or null.</summary>
    public ResourceTableAllocation? Placement { get; private set; }

    /// <summary>The firmware image's <c>.resource_table</c> section, read from the image the core runs (null: none read).</summary>
    public ResourceTableSection? TableSection { get; private set; }

    /// <summary>True when this host started the core (it stops it at the end), false when it found it running (it detaches).</summary>
    public bool Started { get; private set; }

    /// <summary>
    /// Brings up <paramref name="board"/>'s core through its mechanism, its image loaded into <paramref name="memory"/>
    /// where the host loads it; errors name the board, the mechanism and the problem.
    /// </summary>
    /// <exception cref="BoardException">The mechanism, the image, its resource table or the core's state refuses the boot.</exception>
    public static CoreBoot Start(BoardDescriptor board, CoreMemory memory, CoreBootOptions options, ILogger logger, CancellationToken cancellation)
    {
        CoreSpec core = board.EffectiveCore;
        var owned = new DisposalStack(logger, $"board {board.Name} core");
        CoreBoot? boot = null;
        try
        {
            ICoreMechanism mechanism;
            try
            {
                mechanism = CoreMechanisms.For(core, (physical, size) => owned.Push(MappedRegion.MapPhysical(physical, size, devMemPath: options.PhysicalMemoryPath)).Io, options.Sysfs);
            }
            catch (Exception e) when (e is CoreMechanismException or SharedMemoryException)
            {
                throw new BoardException($"board '{board.Name}': core.mechanism '{CoreMemory.Kebab(core.Mechanism)}': {e.Message}");
            }
            boot = new CoreBoot(mechanism, owned, logger, board.Name);
            boot.Bring(board, memory, options, cancellation);
            return boot;
        }
        catch
        {
            if (boot is null) owned.Dispose();
            else boot.Dispose();
            throw;
        }
    }

    private void Bring(BoardDescriptor board, CoreMemory memory, CoreBootOptions options, CancellationToken cancellation)
    {
        FirmwareSpec? firmware = board.EffectiveCore.Firmware;
        string? image = firmware is null ? null : Path.Combine(firmware.Directory, firmware.Image);
        CoreRunState state = Guard(Mechanism.Probe, "cannot tell whether the core runs");
        switch (state)
        {
            case CoreRunState.Crashed:
                throw new BoardException($"board '{_board}': {Mechanism.Description}: the core has crashed and is held so; recover it first");
            case CoreRunState.Running:
                _logger.LogInformation("board {Board}: {Mechanism}: the core runs already; attaching to it", _board, Mechanism.Description);
                _foundRunning = true;
                if (board.ResourceTable.InImage) TableSection = ReadTableSection(board, image);
                return;
        }
        if (Mechanism.LoadsImage)
        {
            // The kernel loads the image; the table's place is read from the same file (its section headers).
            if (board.ResourceTable.InImage) TableSection = ReadTableSection(board, image);
            Guard(() => Mechanism.Start(null, cancellation), "cannot start the core");
        }
        else
        {
            Guard(Mechanism.Hold, "cannot hold the core");
            string path = image ?? throw new BoardException($"board '{_board}': core.firmware: {Mechanism.Description} needs an image to load");
            Loaded = Load(board, memory.Map, path);
            TableSection = Loaded.ResourceTable;
            // The core reads its table when it starts: the host's placements must be in it before the release.
            Placement = CoreTablePlacement.Apply(board, memory, Loaded, path, options.RpmsgPoolSize, _logger);
            Guard(() => Mechanism.Start(null, cancellation), "cannot release the core");
        }
        Started = true;
        _logger.LogInformation("board {Board}: {Mechanism}: core started", _board, Mechanism.Description);
    }

    private LoadedFirmware Load(BoardDescriptor board, MemoryMap memory, string path)
    {
        LoadedFirmware loaded;
        ElfImage elf;
        try
        {
            elf = ElfImage.Load(path);
            loaded = FirmwareLoader.Load(elf, memory);
        }
        catch (FirmwareException e) { throw new BoardException($"board '{_board}': core.firmware {path}: {e.Message}"); }
        if (board.ResourceTable.InImage && loaded.ResourceTable is null)
            throw new BoardException($"board '{_board}': core.firmware {path} has no {ResourceTableSection.SectionName} section, and resourceTable.inImage says the table is there");
        _logger.LogInformation("board {Board}: firmware {Path} loaded ({Segments} segments, entry 0x{Entry:x}){Table}", _board, path, loaded.Segments.Count, loaded.Entry,
            loaded.ResourceTable is { } t ? $", resource table at 0x{t.DeviceAddress:x}" : "");
        LoadedMachine = elf.Machine;
        return loaded;
    }

    private ResourceTableSection ReadTableSection(BoardDescriptor board, string? path)
    {
        if (path is null)
            throw new BoardException($"board '{_board}': resourceTable.inImage: the table is where the image puts it, but core.firmware names no image to read that from");
        try
        {
            return ResourceTableSection.Find(ElfImage.Load(path))
                ?? throw new BoardException($"board '{_board}': core.firmware {path} has no {ResourceTableSection.SectionName} section, and resourceTable.inImage says the table is there");
        }
        catch (FirmwareException e) { throw new BoardException($"board '{_board}': core.firmware {path}: {e.Message}"); }
    }

    private T Guard<T>(Func<T> step, string what)
    {
        try { return step(); }
        catch (CoreMechanismException e) { throw new BoardException($"board '{_board}': {Mechanism.Description}: {what}: {e.Message}"); }
    }

    private void Guard(Action step, string what) => Guard(() => { step(); return 0; }, what);

    /// <summary>The host detaches: when this is disposed the core is left running (the mechanism's detach), even one this host started.</summary>
    public void LeaveRunning()
    {
        if (!Started) return;
        Started = false;
        _foundRunning = true;
    }

    /// <summary>Stops the core if this host started it, else detaches from it; then unmaps the register window.</summary>
    public void Dispose()
    {
        try
        {
            if (Started) Mechanism.Stop();
            else if (_foundRunning) Mechanism.Detach();
        }
        catch (CoreMechanismException e)
        {
            _logger.LogError("board {Board}: {Mechanism}: {Action} failed: {Reason}", _board, Mechanism.Description, Started ? "stop" : "detach", e.Message);
        }
        finally
        {
            Started = _foundRunning = false;
            _owned.Dispose();
        }
    }
}

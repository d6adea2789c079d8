using AmpCan.Host.Service;
using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Boards;
using AmpCan.SharedMem;
using Microsoft.Extensions.Logging;

namespace AmpCan.Host.Boards;

/// <summary>How <see cref="CoreMemory.Open"/> maps a core's regions.</summary>
public sealed record CoreMemoryOptions
{
    /// <summary>
    /// Whether file regions are opened as the remote (or whoever stands for its memory) made them, waited for up to
    /// <see cref="FileWait"/>; false: created here (an in-process simulated remote has nobody else to make them).
    /// </summary>
    public bool OpenExistingFiles { get; init; }
    /// <summary>Longest wait for a file region to appear.</summary>
    public TimeSpan FileWait { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Where dev-mem regions are mapped from: /dev/mem, or a file standing in for it (physical address = file offset).</summary>
    public string PhysicalMemoryPath { get; init; } = "/dev/mem";
}

/// <summary>
/// A core's memory regions (<see cref="BoardDescriptor.EffectiveRegions"/>), each mapped by its backing (memfd, file,
/// a /dev/mem window, a UIO map) at its device address in one <see cref="MemoryMap"/>, with the memory attributes the
/// mapping has (device memory for /dev/mem and UIO, normal memory for a dev-mem region the board marks coherent). An alias (<see cref="RegionSpec.AliasOf"/>) is not mapped again:
/// it is a second view of its region's mapping at the alias's device address, so a write through one is the other's.
/// </summary>
public sealed class CoreMemory : IDisposable
{
    private readonly DisposalStack _owned;
    private readonly Dictionary<string, MappedRegion> _mappings = [];
    private readonly Dictionary<string, IoRegion> _windows = [];

    private CoreMemory(ILogger logger, string board) => _owned = new DisposalStack(logger, $"board {board} memory");

    /// <summary>Every region at its device address (aliases at theirs).</summary>
    public MemoryMap Map { get; } = new();

    /// <summary>The mapping of the region that is the board's shared-memory window (the rpmsg pool's, and the legacy table's).</summary>
    public MappedRegion SharedMemory { get; private set; } = null!;

    /// <summary>The region named <paramref name="region"/> as the remote sees it, at its own device address.</summary>
    /// <exception cref="KeyNotFoundException">No region of that name.</exception>
    public IoRegion Window(string region) => _windows.TryGetValue(region, out IoRegion? w) ? w
        : throw new KeyNotFoundException($"no region '{region}' is mapped (regions: {string.Join(", ", _windows.Keys)})");

    /// <summary>The mapping behind <paramref name="region"/> (for an alias, the aliased region's).</summary>
    public MappedRegion Mapping(string region) => _mappings[region];

    /// <summary>Maps every region of <paramref name="board"/>; on failure what was mapped is unmapped and the error names the region.</summary>
    /// <exception cref="BoardException">A declared region could not be mapped (the message names it and its backing).</exception>
    public static CoreMemory Open(BoardDescriptor board, CoreMemoryOptions options, ILogger logger, CancellationToken cancellation)
    {
        var memory = new CoreMemory(logger, board.Name);
        try
        {
            IReadOnlyList<RegionSpec> regions = board.EffectiveRegions;
            foreach (RegionSpec r in regions.Where(r => r.AliasOf is null))
            {
                MappedRegion m = memory._owned.Push(MapOne(board, r, options, logger, cancellation));
                memory.Add(r.Name, m, m.Io);
                logger.LogInformation("board {Board}: region {Name}: {Region}", board.Name, r.Name, m);
                if (m.ExposureWarning is string exposed) logger.LogWarning("board {Board}: {Exposure}", board.Name, exposed);
                if (r.DeviceAddress == board.SharedMemory.DeviceAddress && r.Size == board.SharedMemory.Size) memory.SharedMemory = m;
            }
            foreach (RegionSpec alias in regions.Where(r => r.AliasOf is not null))
            {
                MappedRegion target = memory._mappings[alias.AliasOf!];
                memory.Add(alias.Name, target, target.ViewAt(alias.DeviceAddress, $"{alias.Name} (alias of {alias.AliasOf})"));
            }
            if (memory.SharedMemory is null)
                throw new BoardException($"board '{board.Name}': sharedMemory is none of the regions (the board was not validated)");
            return memory;
        }
        catch
        {
            memory.Dispose();
            throw;
        }
    }

    private void Add(string name, MappedRegion mapping, IoRegion window)
    {
        Map.Add(window);
        _mappings[name] = mapping;
        _windows[name] = window;
    }

    private static MappedRegion MapOne(BoardDescriptor board, RegionSpec r, CoreMemoryOptions options, ILogger logger, CancellationToken cancellation)
    {
        RegionBackingSpec b = r.Backing;
        // The board's one window keeps the memfd name it always had; a declared region is named after itself too.
        bool legacy = board.Regions is null;
        string memfd = legacy ? $"ampcan-{RemoteFileNames.Safe(board.Name)}" : $"ampcan-{RemoteFileNames.Safe(board.Name)}-{RemoteFileNames.Safe(r.Name)}";
        // A file region's permissions and owner are those the board gives its shared-memory file.
        SharedMemorySpec file = board.SharedMemory with { Kind = SharedMemoryKind.File, Path = b.Path, Size = r.Size, DeviceAddress = r.DeviceAddress };
        try
        {
            return b.Kind switch
            {
                SharedMemoryKind.Memfd => MappedRegion.CreateMemfd(memfd, r.Size, r.DeviceAddress),
                SharedMemoryKind.File when options.OpenExistingFiles => StartupWait.For<MappedRegion>(board.Name, legacy ? $"the remote to create {b.Path}" : $"the remote to create {b.Path} (region '{r.Name}')", options.FileWait, logger, cancellation, () =>
                {
                    try { return (MappedRegion.MapFile(b.Path!, r.Size, BoardInstanceLock.OpenFileOptions(file), r.DeviceAddress), null); }
                    catch (SharedMemoryException e) { return (null, e.Message); }
                }),
                SharedMemoryKind.File => MappedRegion.MapFile(b.Path!, r.Size, BoardInstanceLock.CreateFileOptions(file), r.DeviceAddress),
                SharedMemoryKind.DevMem => MappedRegion.MapPhysical(r.PhysicalAddress, r.Size, r.DeviceAddress, options.PhysicalMemoryPath, cacheable: r.Cache == RegionCache.Coherent),
                _ => MappedRegion.MapUio(b.UioDevice, b.UioMap, r.DeviceAddress),
            };
        }
        catch (SharedMemoryException e) when (!legacy)
        {
            throw new BoardException($"board '{board.Name}': region '{r.Name}' ({Kebab(b.Kind)} at device address 0x{r.DeviceAddress:x}, 0x{r.Size:x} bytes) " +
                $"cannot be mapped: {e.Message}");
        }
    }

    /// <summary>An enum value as board files spell it.</summary>
    internal static string Kebab<T>(T value) where T : struct, Enum => System.Text.Json.JsonNamingPolicy.KebabCaseLower.ConvertName(value.ToString());

    /// <summary>Unmaps every region.</summary>
    public void Dispose() => _owned.Dispose();
}

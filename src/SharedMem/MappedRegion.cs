using System.Globalization;
using System.Text;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace AmpCan.SharedMem;

/// <summary>Where a mapped region's memory comes from.</summary>
public enum MappingKind
{
    /// <summary>An anonymous memfd (simulation; its descriptor can be handed to another process).</summary>
    Memfd,
    /// <summary>A named file such as one under /dev/shm or a hugetlbfs mount, or a PCI resource file.</summary>
    File,
    /// <summary>A physical window of /dev/mem opened with O_SYNC (real SoCs).</summary>
    PhysicalWindow,
    /// <summary>A UIO map (/dev/uioN, map index M).</summary>
    Uio,
}

/// <summary>
/// One shared-memory mapping made with mmap(MAP_SHARED). It knows the device address the remote uses for its
/// first byte; all access goes through <see cref="Io"/> and its bounds-checked views.
/// </summary>
/// <remarks>
/// Dispose detaches the address range from the shared memory at once (it is replaced by private anonymous
/// memory), so a view still held by another thread never faults and never touches the carveout again; the
/// address range itself is returned when the last view becomes unreachable.
/// </remarks>
public sealed unsafe class MappedRegion : IDisposable
{
    private readonly byte* _mapBase;
    private readonly ulong _mapLength;
    private int _fd;
    private int _disposed;
    private ulong _fileOffset;

    private MappedRegion(string name, MappingKind kind, byte* mapBase, ulong mapLength, ulong innerOffset, ulong size, ulong deviceAddress, int fd)
    {
        Name = name;
        Kind = kind;
        _mapBase = mapBase;
        _mapLength = mapLength;
        Size = size;
        DeviceAddress = deviceAddress;
        _fd = fd;
        Io = new IoRegion(this, mapBase + innerOffset, size, deviceAddress, name);
    }

    /// <summary>Name used in logs and errors (file path, memfd name, physical address).</summary>
    public string Name { get; }

    /// <summary>Where the memory comes from.</summary>
    public MappingKind Kind { get; }

    /// <summary>Bytes mapped, starting at <see cref="DeviceAddress"/>.</summary>
    public ulong Size { get; }

    /// <summary>The address the remote uses for the first byte of this region.</summary>
    public ulong DeviceAddress { get; }

    /// <summary>The whole region as a bounds-checked view.</summary>
    public IoRegion Io { get; }

    /// <summary>The descriptor behind a memfd region (to hand to another process), or -1 for other kinds.</summary>
    public int FileDescriptor => Kind == MappingKind.Memfd ? Volatile.Read(ref _fd) : -1;

    /// <summary>True once <see cref="Dispose"/> has detached the region.</summary>
    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>Creates an anonymous memfd of <paramref name="size"/> bytes and maps it shared.</summary>
    public static MappedRegion CreateMemfd(string name, ulong size, ulong deviceAddress = 0)
    {
        RequireSize(size, name);
        byte[] n = Encoding.UTF8.GetBytes(name + "\0");
        int fd;
        fixed (byte* p = n) fd = memfd_create(p, MFD_CLOEXEC | MFD_ALLOW_SEALING);
        Posix.Check(fd, $"memfd_create '{name}'");
        try
        {
            Posix.Check(ftruncate(fd, (long)size), $"ftruncate memfd '{name}' to {size} bytes");
            return Map(name, MappingKind.Memfd, fd, 0, size, deviceAddress, keepFd: true, PROT_READ | PROT_WRITE);
        }
        catch
        {
            close(fd);
            throw;
        }
    }

    /// <summary>Maps a memfd (or any shared-memory descriptor) received from another process; takes ownership of <paramref name="fd"/>.</summary>
    public static MappedRegion MapMemfd(int fd, ulong size, ulong deviceAddress = 0, string name = "memfd")
    {
        RequireSize(size, name);
        try
        {
            ulong actual = Posix.FileSize(fd, $"'{name}'");
            if (actual < size)
                throw new SharedMemoryException($"shared memory '{name}' is {actual} bytes, smaller than the {size} bytes asked for");
            return Map(name, MappingKind.Memfd, fd, 0, size, deviceAddress, keepFd: true, PROT_READ | PROT_WRITE);
        }
        catch
        {
            close(fd);
            throw;
        }
    }

    /// <summary>
    /// Maps <paramref name="size"/> bytes of a named file from <paramref name="fileOffset"/>: a file under /dev/shm, on a
    /// hugetlbfs mount, or a PCI resource file. With <paramref name="create"/> the file is created and grown (never shrunk).
    /// </summary>
    public static MappedRegion MapFile(string path, ulong size, ulong deviceAddress = 0, ulong fileOffset = 0, bool create = false)
    {
        RequireSize(size, path);
        int fd = Posix.Open(path, O_RDWR | (create ? O_CREAT : 0), 0x1B6 /* 0666, less umask */);
        try
        {
            // On hugetlbfs offsets, lengths and file sizes go in huge pages.
            ulong page = Posix.FilePageSize(fd);
            if (fileOffset % page != 0)
                throw new SharedMemoryException($"file offset 0x{fileOffset:x} of '{path}' is not a multiple of its page size ({page})");
            ulong actual = Posix.FileSize(fd, $"'{path}'");
            if (actual < fileOffset + size)
            {
                if (!create)
                    throw new SharedMemoryException($"file '{path}' is {actual} bytes, too small for a window of {size} bytes at offset 0x{fileOffset:x}");
                ulong grown = page == Posix.PageSize ? fileOffset + size : RoundUp(fileOffset + size, page);
                Posix.Check(ftruncate(fd, (long)grown), $"ftruncate '{path}' to {grown} bytes");
            }
            MappedRegion r = Map(path, MappingKind.File, fd, fileOffset, size, deviceAddress, keepFd: false, PROT_READ | PROT_WRITE, pageSize: page);
            r._fileOffset = fileOffset;
            return r;
        }
        finally
        {
            close(fd);
        }
    }

    /// <summary>
    /// Maps a physical window through /dev/mem opened with O_SYNC (uncached on real SoCs). The window need not be
    /// page aligned. The device address defaults to the physical address.
    /// </summary>
    public static MappedRegion MapPhysical(ulong physicalAddress, ulong size, ulong? deviceAddress = null, string devMemPath = "/dev/mem")
    {
        string name = $"{devMemPath}@0x{physicalAddress:x}";
        RequireSize(size, name);
        int fd = Posix.Open(devMemPath, O_RDWR | O_SYNC);
        try
        {
            ulong aligned = physicalAddress & ~(Posix.PageSize - 1);
            return Map(name, MappingKind.PhysicalWindow, fd, aligned, size + (physicalAddress - aligned), deviceAddress ?? physicalAddress,
                keepFd: false, PROT_READ | PROT_WRITE, innerOffset: physicalAddress - aligned);
        }
        finally
        {
            close(fd);
        }
    }

    /// <summary>
    /// Maps UIO map <paramref name="mapIndex"/> of /dev/uio<paramref name="uioIndex"/>, reading its size, physical address and
    /// in-page offset from sysfs. The device address defaults to the map's physical address.
    /// </summary>
    public static MappedRegion MapUio(int uioIndex, int mapIndex, ulong? deviceAddress = null, string sysfsRoot = "/sys/class/uio", string devRoot = "/dev")
    {
        if (uioIndex < 0 || mapIndex < 0)
            throw new ArgumentOutOfRangeException(nameof(uioIndex), "UIO device and map indices must not be negative");
        string mapDir = Path.Combine(sysfsRoot, $"uio{uioIndex}", "maps", $"map{mapIndex}");
        if (!Directory.Exists(mapDir))
            throw new SharedMemoryException($"UIO device uio{uioIndex} has no map {mapIndex} ({mapDir} does not exist)");
        ulong size = ReadSysfsNumber(Path.Combine(mapDir, "size"));
        ulong addr = ReadSysfsNumber(Path.Combine(mapDir, "addr"));
        string offsetFile = Path.Combine(mapDir, "offset");
        ulong inPage = File.Exists(offsetFile) ? ReadSysfsNumber(offsetFile) : 0;
        string dev = Path.Combine(devRoot, $"uio{uioIndex}");
        int fd = Posix.Open(dev, O_RDWR | O_SYNC);
        try
        {
            // UIO selects map N with mmap offset N * page size; the map's first byte sits 'offset' bytes into that page.
            return Map($"{dev} map{mapIndex}", MappingKind.Uio, fd, (ulong)mapIndex * Posix.PageSize, size + inPage, deviceAddress ?? addr,
                keepFd: false, PROT_READ | PROT_WRITE, innerOffset: inPage);
        }
        finally
        {
            close(fd);
        }
    }

    /// <summary>
    /// A second, independent mapping of the same memory (memfd or file), as another process would have it; used to
    /// give an in-process simulated remote its own view.
    /// </summary>
    public MappedRegion MapAgain()
    {
        switch (Kind)
        {
            case MappingKind.Memfd:
                int fd = Volatile.Read(ref _fd);
                if (fd < 0) throw new ObjectDisposedException(Name);
                return MapMemfd(Posix.Check(fcntl(fd, F_DUPFD_CLOEXEC, 0), $"dup '{Name}'"), Size, DeviceAddress, Name);
            case MappingKind.File:
                return MapFile(Name, Size, DeviceAddress, _fileOffset);
            default:
                throw new NotSupportedException($"'{Name}' ({Kind}) cannot be mapped a second time from here");
        }
    }

    private static ulong ReadSysfsNumber(string path)
    {
        string text;
        try { text = File.ReadAllText(path).Trim(); }
        catch (IOException e) { throw new SharedMemoryException($"cannot read '{path}': {e.Message}"); }
        bool hex = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase);
        if (!ulong.TryParse(hex ? text[2..] : text, hex ? NumberStyles.HexNumber : NumberStyles.None, CultureInfo.InvariantCulture, out ulong v))
            throw new SharedMemoryException($"'{path}' holds '{text}', not a number");
        return v;
    }

    private static void RequireSize(ulong size, string name)
    {
        if (size == 0) throw new ArgumentOutOfRangeException(nameof(size), $"region '{name}' must not be empty");
        if (size > long.MaxValue) throw new ArgumentOutOfRangeException(nameof(size), $"region '{name}' is too large ({size} bytes)");
    }

    private static MappedRegion Map(string name, MappingKind kind, int fd, ulong fileOffset, ulong length, ulong deviceAddress, bool keepFd, int prot, ulong innerOffset = 0, ulong pageSize = 0)
    {
        ulong mapLength = RoundUp(length, pageSize == 0 ? Posix.PageSize : pageSize);
        void* p = mmap(null, (size_t)mapLength, prot, MAP_SHARED, fd, (long)fileOffset);
        if (p == MAP_FAILED)
            throw SharedMemoryException.FromErrno($"mmap of {mapLength} bytes of '{name}' at offset 0x{fileOffset:x}", errno);
        return new MappedRegion(name, kind, (byte*)p, mapLength, innerOffset, length - innerOffset, deviceAddress, keepFd ? fd : -1);
    }

    private static ulong RoundUp(ulong value, ulong page) => (value + page - 1) & ~(page - 1);

    // MAP_FIXED over the same range swaps the shared pages for private ones atomically: no window where a racing view
    // could fault, and nothing written afterwards reaches the peer.
    private bool DetachFromSharedMemory() =>
        mmap(_mapBase, (size_t)_mapLength, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED;

    /// <summary>Detaches the region from the shared memory and closes its descriptor; views keep working on private zeroed memory.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        // Should the kernel refuse (it cannot), the shared mapping stays: a view writing after dispose is a smaller harm
        // than a view faulting on an unmapped page.
        DetachedFromSharedMemory = DetachFromSharedMemory();
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0) close(fd);
    }

    /// <summary>True once <see cref="Dispose"/> has swapped the shared pages for private ones.</summary>
    public bool DetachedFromSharedMemory { get; private set; }

    /// <summary>A region nobody disposed: detached from the shared memory the same way, never unmapped.</summary>
    /// <remarks>
    /// A span over the region does not keep it reachable, so code still using one when the region is collected must
    /// read zeros rather than fault; the address range is the price (its pages cost nothing until touched).
    /// </remarks>
    ~MappedRegion()
    {
        if (_disposed == 0) DetachFromSharedMemory();
        if (_fd >= 0) close(_fd);
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Name} [{Kind}, 0x{DeviceAddress:x}+0x{Size:x}]";
}

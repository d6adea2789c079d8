using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using AmpCan.SharedMem.Ordering;
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
/// A file whose size another process can still reduce is the one way left to fault: an access past its new end
/// raises SIGBUS, which ends the process. Memfds created here are sealed against it; <see cref="PeerCanShrink"/>
/// and <see cref="ExposureWarning"/> say when the platform leaves that door open.
/// </remarks>
public sealed unsafe class MappedRegion : IDisposable
{
    // The seals a memfd gets before anyone else can see it: its size is final, and so is that decision.
    private const int SizeSeals = (int)(FileSeals.Shrink | FileSeals.Grow | FileSeals.Seal);

    private readonly byte* _mapBase;
    private readonly byte* _ioBase; // the region's first byte (past any in-page offset of the mapping)
    private readonly ulong _mapLength;
    private readonly FileDescriptorHandle? _file; // memfd and file regions keep theirs, for MapAgain and hand-over
    private int _disposed;
    private ulong _fileOffset;
    private string? _removeOnDispose;
    private FileIdentity _identity;

    private MappedRegion(string name, MappingKind kind, byte* mapBase, ulong mapLength, ulong innerOffset, ulong size, ulong deviceAddress, FileDescriptorHandle? file,
        MemoryAttributes? attributes = null)
    {
        Name = name;
        Kind = kind;
        _mapBase = mapBase;
        _mapLength = mapLength;
        Size = size;
        DeviceAddress = deviceAddress;
        _file = file;
        _ioBase = mapBase + innerOffset;
        // The peer decides the barriers (a remote core behind /dev/mem or UIO: System), the mapping the memory type.
        Io = new IoRegion(this, _ioBase, size, deviceAddress, name, attributes ?? (kind is MappingKind.PhysicalWindow or MappingKind.Uio ? MemoryAttributes.Device : MemoryAttributes.Normal),
            kind is MappingKind.PhysicalWindow or MappingKind.Uio ? BarrierDomain.System : BarrierDomain.InnerShareable);
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

    /// <summary>The descriptor behind a memfd region (to hand to another process), or -1 for other kinds and once disposed.</summary>
    /// <remarks>The number is only a snapshot; to pass it on while another thread may dispose the region, use <see cref="FileHandle"/>.</remarks>
    public int FileDescriptor => Kind == MappingKind.Memfd ? _file!.NumberOrInvalid : -1;

    /// <summary>The descriptor behind a memfd region as a handle that keeps it open while in use (see <see cref="UnixFdChannel"/>), or null for other kinds.</summary>
    public SafeHandle? FileHandle => Kind == MappingKind.Memfd ? _file : null;

    /// <summary>True once <see cref="Dispose"/> has detached the region.</summary>
    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>The seals of the memfd or file when it was mapped (<see cref="FileSeals.None"/> where the file system has none, and for device memory).</summary>
    public FileSeals Seals { get; private set; }

    /// <summary>
    /// True when another process that can write the backing file can still shrink it, and so make this process's next
    /// access to the lost pages fault (SIGBUS ends the process): an unsealed memfd, or any file on tmpfs, hugetlbfs or
    /// a disk (none of which can be sealed).
    /// </summary>
    public bool PeerCanShrink => Kind is MappingKind.Memfd or MappingKind.File && (Seals & FileSeals.Shrink) == 0;

    /// <summary>True when the backing file's permissions let users other than its owner write it.</summary>
    public bool WritableByOtherUsers { get; private set; }

    /// <summary>True when this region created its backing file (and so is the one to remove it).</summary>
    public bool CreatedFile { get; private set; }

    /// <summary>
    /// One plain sentence on what another process could still do to this memory (shrink it, write it without being
    /// its owner), for the log; null when nothing.
    /// </summary>
    public string? ExposureWarning
    {
        get
        {
            var parts = new List<string>(2);
            if (PeerCanShrink)
                parts.Add(Kind == MappingKind.Memfd
                    ? $"memfd '{Name}' is not sealed against shrinking (seals: {Seals}), so whoever holds it can truncate it and this process dies (SIGBUS) on its next access"
                    : $"'{Name}' is a plain file, which cannot be sealed: any process that can write it can truncate it, and this process dies (SIGBUS) on its next access");
            if (WritableByOtherUsers)
                parts.Add($"'{Name}' is writable by users other than its owner (group or other write permission)");
            return parts.Count == 0 ? null : string.Join("; ", parts);
        }
    }

    /// <summary>
    /// Creates an anonymous memfd of <paramref name="size"/> bytes and maps it shared. The memfd is sealed against
    /// shrinking and growing before it is returned, so a peer given its descriptor cannot make this mapping fault.
    /// </summary>
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
            Posix.Check(fcntl(fd, F_ADD_SEALS, SizeSeals), $"sealing memfd '{name}' against resizing");
        }
        catch
        {
            close(fd);
            throw;
        }
        return MapOwned(name, MappingKind.Memfd, new FileDescriptorHandle(fd), size, deviceAddress);
    }

    /// <summary>Maps a memfd (or any shared-memory descriptor) received from another process; takes ownership of <paramref name="fd"/>.</summary>
    /// <remarks>
    /// Its seals are read first (<see cref="Seals"/>, <see cref="PeerCanShrink"/>); with <paramref name="requireShrinkSealed"/>
    /// a descriptor whose sender could still truncate it is refused.
    /// </remarks>
    public static MappedRegion MapMemfd(int fd, ulong size, ulong deviceAddress = 0, string name = "memfd", bool requireShrinkSealed = false)
    {
        var handle = new FileDescriptorHandle(fd);
        try
        {
            RequireSize(size, name);
            if (requireShrinkSealed)
            {
                // Seals only accumulate: one read before the size check makes that check final.
                FileSeals seals = Posix.GetSeals(fd, $"'{name}'") ?? FileSeals.None;
                if ((seals & FileSeals.Shrink) == 0)
                    throw new SharedMemoryException(
                        $"shared memory '{name}' is not sealed against shrinking (seals: {seals}): its sender could truncate it and crash this process; " +
                        "refusing it as asked (the sender must add F_SEAL_SHRINK before handing it over)");
            }
        }
        catch
        {
            handle.Dispose();
            throw;
        }
        return MapOwned(name, MappingKind.Memfd, handle, size, deviceAddress);
    }

    /// <summary>
    /// Maps <paramref name="size"/> bytes from <paramref name="fileOffset"/> of a shared-memory descriptor another process
    /// sent (a vhost-user front end's guest RAM: a memfd, or a file on tmpfs or hugetlbfs); takes ownership of
    /// <paramref name="fd"/>, which is closed here if it is refused.
    /// </summary>
    /// <remarks>
    /// Only a regular file is mapped (a memfd is one): a device node or socket sent in its place is refused, so a
    /// sender cannot make this process map memory it was not given as memory. The offset must be a multiple of the
    /// file's page size and the window must lie inside the file. The seals are read before the size (they only
    /// accumulate, so a shrink seal seen first makes the size check final); with <paramref name="requireShrinkSealed"/>
    /// a descriptor whose sender could still truncate it (and so make this process die of SIGBUS) is refused.
    /// </remarks>
    public static MappedRegion MapReceived(int fd, ulong fileOffset, ulong size, ulong deviceAddress, string name, bool requireShrinkSealed)
    {
        var handle = new FileDescriptorHandle(fd);
        try
        {
            RequireSize(size, name);
            if (fileOffset > long.MaxValue - size)
                throw new SharedMemoryException($"shared memory '{name}': offset 0x{fileOffset:x} + size 0x{size:x} is beyond any file");
            stat st = Posix.FStat(fd, $"'{name}'");
            if (!S_ISREG(st.st_mode))
                throw new SharedMemoryException($"shared memory '{name}' (file mode 0x{(uint)st.st_mode:x}) is not a memfd or regular file: refusing to map it");
            FileSeals? seals = Posix.GetSeals(fd, $"'{name}'");
            if (requireShrinkSealed && ((seals ?? FileSeals.None) & FileSeals.Shrink) == 0)
                throw new SharedMemoryException(
                    $"shared memory '{name}' is not sealed against shrinking (seals: {seals?.ToString() ?? "none, the file system has no seals"}): " +
                    "its sender could truncate it and crash this process; refusing it (QEMU seals memory-backend-memfd unless seal=off)");
            ulong page = Posix.FilePageSize(fd);
            if (fileOffset % page != 0)
                throw new SharedMemoryException($"shared memory '{name}': mmap offset 0x{fileOffset:x} is not a multiple of its page size ({page})");
            // A descriptor with seals is shared memory (memfd, tmpfs); one without is a file of another file system.
            return MapDescriptor(name, seals is null ? MappingKind.File : MappingKind.Memfd, handle, fileOffset, size, deviceAddress, page);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The whole region as a view whose first byte has another device address, named <paramref name="name"/> (default:
    /// the region's name): for memory with two address spaces (vhost-user's guest-physical and front-end-virtual
    /// addresses, an SoC's SRAM seen on two buses). The view is as bounded as <see cref="Io"/> and dies with the region.
    /// </summary>
    public IoRegion ViewAt(ulong deviceAddress, string? name = null) => new(this, _ioBase, Size, deviceAddress, name ?? Name, Io.Attributes, Io.Barriers);

    /// <summary>Maps a whole memfd whose handle the new region takes over (closed here if mapping fails).</summary>
    private static MappedRegion MapOwned(string name, MappingKind kind, FileDescriptorHandle handle, ulong size, ulong deviceAddress)
    {
        try
        {
            return MapDescriptor(name, kind, handle, 0, size, deviceAddress);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Maps <paramref name="size"/> bytes of a named file from <paramref name="fileOffset"/>: a file under /dev/shm, on a
    /// hugetlbfs mount, or a PCI resource file. With <paramref name="create"/> the file is created if missing and grown
    /// (never shrunk). A symbolic link at the path, or a file owned by another user than us or root, is refused; a file
    /// created here is mode 0600 and stays when the region is disposed (see the overload with <see cref="SharedFileOptions"/>).
    /// </summary>
    public static MappedRegion MapFile(string path, ulong size, ulong deviceAddress = 0, ulong fileOffset = 0, bool create = false) =>
        MapFile(path, size, new SharedFileOptions
        {
            Creation = create ? FileCreation.CreateIfMissing : FileCreation.OpenExisting,
            RemoveOnDispose = false,
        }, deviceAddress, fileOffset);

    /// <summary>
    /// Maps <paramref name="size"/> bytes of a named file from <paramref name="fileOffset"/>, opened or created as
    /// <paramref name="options"/> say (never through a symbolic link). A file that is created, or found too small by a
    /// mode that may create it, is grown to fit (never shrunk).
    /// </summary>
    public static MappedRegion MapFile(string path, ulong size, SharedFileOptions options, ulong deviceAddress = 0, ulong fileOffset = 0)
    {
        ArgumentNullException.ThrowIfNull(options);
        RequireSize(size, path);
        SharedFile.Opened file = SharedFile.Open(path, options);
        var handle = new FileDescriptorHandle(file.Fd);
        MappedRegion region;
        try
        {
            int fd = file.Fd;
            // On hugetlbfs offsets, lengths and file sizes go in huge pages.
            ulong page = Posix.FilePageSize(fd);
            if (fileOffset % page != 0)
                throw new SharedMemoryException($"file offset 0x{fileOffset:x} of '{path}' is not a multiple of its page size ({page})");
            ulong actual = Posix.FileSize(fd, $"'{path}'");
            if (actual < fileOffset + size)
            {
                if (options.Creation == FileCreation.OpenExisting)
                    throw new SharedMemoryException($"file '{path}' is {actual} bytes, too small for a window of {size} bytes at offset 0x{fileOffset:x}");
                ulong grown = page == Posix.PageSize ? fileOffset + size : RoundUp(fileOffset + size, page);
                Posix.Check(ftruncate(fd, (long)grown), $"ftruncate '{path}' to {grown} bytes");
            }
            region = MapDescriptor(path, MappingKind.File, handle, fileOffset, size, deviceAddress, page);
        }
        catch
        {
            handle.Dispose();
            if (file.Created) Posix.UnlinkIfSame(path, file.Identity);
            throw;
        }
        region.CreatedFile = file.Created;
        region._identity = file.Identity;
        if (file.Created && options.RemoveOnDispose) region._removeOnDispose = path;
        return region;
    }

    /// <summary>
    /// Maps a physical window through /dev/mem opened with O_SYNC (uncached on real SoCs), accessed as device memory;
    /// or, <paramref name="cacheable"/>, opened without O_SYNC and accessed as normal memory (a carveout coherent with
    /// the remote). The window need not be page aligned. The device address defaults to the physical address.
    /// </summary>
    /// <remarks>
    /// The kernel has the last word on the memory type: arm64 maps a page outside its linear map (a no-map carveout)
    /// Device-nGnRnE whatever the flags, so cacheable is for memory the board knows the kernel maps cacheable;
    /// otherwise the normal-memory fast path's unaligned and vector accesses would fault.
    /// </remarks>
    public static MappedRegion MapPhysical(ulong physicalAddress, ulong size, ulong? deviceAddress = null, string devMemPath = "/dev/mem", bool cacheable = false)
    {
        string name = $"{devMemPath}@0x{physicalAddress:x}";
        RequireSize(size, name);
        int fd = Posix.Open(devMemPath, PhysicalOpenFlags(cacheable));
        try
        {
            ulong aligned = physicalAddress & ~(Posix.PageSize - 1);
            return Map(name, MappingKind.PhysicalWindow, fd, aligned, size + (physicalAddress - aligned), deviceAddress ?? physicalAddress,
                keep: null, innerOffset: physicalAddress - aligned, attributes: cacheable ? MemoryAttributes.Normal : MemoryAttributes.Device);
        }
        finally
        {
            close(fd);
        }
    }

    /// <summary>How <see cref="MapPhysical"/> opens /dev/mem: O_SYNC (the kernel maps the window uncached) unless cacheable.</summary>
    internal static int PhysicalOpenFlags(bool cacheable) => cacheable ? O_RDWR : O_RDWR | O_SYNC;

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
                keep: null, innerOffset: inPage);
        }
        finally
        {
            close(fd);
        }
    }

    /// <summary>
    /// A second, independent mapping of the same memory (memfd or file), as another process would have it; used to
    /// give an in-process simulated remote its own view. It maps the very file this region maps, even if its path now
    /// names another.
    /// </summary>
    public MappedRegion MapAgain()
    {
        if (Kind is not (MappingKind.Memfd or MappingKind.File))
            throw new NotSupportedException($"'{Name}' ({Kind}) cannot be mapped a second time from here");
        int fd = _file!.Enter(Name);
        int dup;
        try
        {
            dup = Posix.Check(fcntl(fd, F_DUPFD_CLOEXEC, 0), $"dup '{Name}'");
        }
        finally
        {
            _file.Exit();
        }
        var handle = new FileDescriptorHandle(dup);
        try
        {
            return MapDescriptor(Name, Kind, handle, _fileOffset, Size, DeviceAddress, Kind == MappingKind.File ? Posix.FilePageSize(dup) : 0);
        }
        catch
        {
            handle.Dispose();
            throw;
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

    /// <summary>Maps a memfd or file the region keeps open; on failure the caller still owns <paramref name="file"/>.</summary>
    private static MappedRegion MapDescriptor(string name, MappingKind kind, FileDescriptorHandle file, ulong fileOffset, ulong size, ulong deviceAddress, ulong pageSize = 0)
    {
        int fd = file.Enter(name);
        try
        {
            // Seals first: they only accumulate, so a shrink seal seen here makes the size check below final.
            FileSeals seals = Posix.GetSeals(fd, $"'{name}'") ?? FileSeals.None;
            ulong actual = Posix.FileSize(fd, $"'{name}'");
            if (actual < fileOffset + size)
                throw new SharedMemoryException(kind == MappingKind.Memfd
                    ? $"shared memory '{name}' is {actual} bytes, smaller than the {size} bytes asked for"
                    : $"file '{name}' is {actual} bytes, too small for a window of {size} bytes at offset 0x{fileOffset:x}");
            stat st = Posix.FStat(fd, $"'{name}'");
            MappedRegion region = Map(name, kind, fd, fileOffset, size, deviceAddress, file, pageSize: pageSize);
            region.Seals = seals;
            region._fileOffset = fileOffset;
            // A memfd has no path: only a process allowed to trace ours could reach it, whatever its mode says.
            region.WritableByOtherUsers = kind == MappingKind.File && ((ushort)st.st_mode & 0x12 /* 0022 */) != 0;
            return region;
        }
        finally
        {
            file.Exit();
        }
    }

    private static MappedRegion Map(string name, MappingKind kind, int fd, ulong fileOffset, ulong length, ulong deviceAddress, FileDescriptorHandle? keep, ulong innerOffset = 0, ulong pageSize = 0,
        MemoryAttributes? attributes = null)
    {
        ulong mapLength = RoundUp(length, pageSize == 0 ? Posix.PageSize : pageSize);
        // size_t is 4 bytes in a 32-bit process: a longer window would be truncated by the cast, not refused by mmap.
        if (mapLength > nuint.MaxValue || mapLength < length)
            throw new SharedMemoryException($"mmap of '{name}': {length} bytes do not fit this {IntPtr.Size * 8}-bit process's address space");
        void* p = mmap(null, (size_t)mapLength, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (long)fileOffset);
        if (p == MAP_FAILED)
            throw SharedMemoryException.FromErrno($"mmap of {mapLength} bytes of '{name}' at offset 0x{fileOffset:x}", errno);
        return new MappedRegion(name, kind, (byte*)p, mapLength, innerOffset, length - innerOffset, deviceAddress, keep, attributes);
    }

    private static ulong RoundUp(ulong value, ulong page) => (value + page - 1) & ~(page - 1);

    // MAP_FIXED over the same range swaps the shared pages for private ones atomically: no window where a racing view
    // could fault, and nothing written afterwards reaches the peer.
    private bool DetachFromSharedMemory() =>
        mmap(_mapBase, (size_t)_mapLength, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED;

    /// <summary>
    /// Detaches the region from the shared memory, closes its descriptor once no call is using it, and removes the
    /// file it created if asked to (and if the path still names that file); views keep working on private zeroed memory.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        // Should the kernel refuse (it cannot), the shared mapping stays: a view writing after dispose is a smaller harm
        // than a view faulting on an unmapped page.
        DetachedFromSharedMemory = DetachFromSharedMemory();
        if (_removeOnDispose is string path) Posix.UnlinkIfSame(path, _identity);
        _file?.Dispose();
    }

    /// <summary>True once <see cref="Dispose"/> has swapped the shared pages for private ones.</summary>
    public bool DetachedFromSharedMemory { get; private set; }

    /// <summary>A region nobody disposed: detached from the shared memory the same way, never unmapped.</summary>
    /// <remarks>
    /// A span over the region does not keep it reachable, so code still using one when the region is collected must
    /// read zeros rather than fault; the address range is the price (its pages cost nothing until touched). The
    /// descriptor closes itself (it is a safe handle); a file created here is left in place.
    /// </remarks>
    ~MappedRegion()
    {
        if (_disposed == 0) DetachFromSharedMemory();
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Name} [{Kind}, 0x{DeviceAddress:x}+0x{Size:x}]";
}

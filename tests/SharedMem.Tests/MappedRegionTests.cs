using AmpCan.SharedMem;

namespace AmpCan.Tests.SharedMem;

public class MappedRegionTests
{
    [Test]
    public void MemfdIsSharedBetweenTwoMappingsOfTheSameDescriptor()
    {
        using var a = MappedRegion.CreateMemfd("t-shared", 8192, deviceAddress: 0x1000_0000);
        int dup = DuplicateFd(a.FileDescriptor);
        using var b = MappedRegion.MapMemfd(dup, 8192, deviceAddress: 0x1000_0000);

        a.Io.WriteU32(0x100, 0xDEADBEEF);
        b.Io.WriteU16(0x1FFE, 0x1234);

        Assert.Multiple(() =>
        {
            Assert.That(b.Io.ReadU32(0x100), Is.EqualTo(0xDEADBEEF));
            Assert.That(a.Io.ReadU16(0x1FFE), Is.EqualTo(0x1234));
            Assert.That(a.Kind, Is.EqualTo(MappingKind.Memfd));
            Assert.That(a.Io.DeviceAddress, Is.EqualTo(0x1000_0000UL));
            Assert.That(a.Size, Is.EqualTo(8192UL));
        });
    }

    [Test]
    public void MapMemfdRefusesADescriptorSmallerThanAsked()
    {
        using var a = MappedRegion.CreateMemfd("t-small", 4096);
        var e = Assert.Throws<SharedMemoryException>(() => MappedRegion.MapMemfd(DuplicateFd(a.FileDescriptor), 8192, name: "peer-memfd"));
        Assert.That(e!.Message, Does.Contain("peer-memfd").And.Contain("4096").And.Contain("8192"));
    }

    [Test]
    public void DevShmFileIsSharedAndGrownOnlyWhenAsked()
    {
        string path = $"/dev/shm/ampcan-test-{Environment.ProcessId}-{Guid.NewGuid():N}";
        try
        {
            using var a = MappedRegion.MapFile(path, 0x2000, deviceAddress: 0x3000_0000, create: true);
            using var b = MappedRegion.MapFile(path, 0x1000, deviceAddress: 0x3000_1000, fileOffset: 0x1000);
            a.Io.WriteU64(0x1008, 0x0102030405060708);
            Assert.That(b.Io.ReadU64(8), Is.EqualTo(0x0102030405060708UL));
            Assert.That(new FileInfo(path).Length, Is.EqualTo(0x2000));

            var e = Assert.Throws<SharedMemoryException>(() => MappedRegion.MapFile(path, 0x4000));
            Assert.That(e!.Message, Does.Contain(path).And.Contain("too small"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>A hugetlbfs mount and its page size, when this machine has one with at least two free huge pages.</summary>
    private static (string Mount, ulong PageSize)? HugetlbfsWithFreePages()
    {
        string? mount = File.ReadAllLines("/proc/mounts").Select(l => l.Split(' ')).FirstOrDefault(f => f.Length > 3 && f[2] == "hugetlbfs")?[1];
        if (mount is null) return null;
        var info = File.ReadAllLines("/proc/meminfo").Select(l => l.Split(':', 2)).ToDictionary(p => p[0], p => p[1].Trim());
        long free = long.Parse(info["HugePages_Free"]);
        ulong page = ulong.Parse(info["Hugepagesize"].Split(' ')[0]) * 1024;
        return free >= 2 ? (mount, page) : null;
    }

    [Test]
    public void HugetlbfsFileIsMappedInWholeHugePages()
    {
        if (HugetlbfsWithFreePages() is not var (mount, page))
        {
            Assert.Ignore("SKIPPED: no hugetlbfs mount with two free huge pages (.ci/run reserves some and mounts one when it runs as root)");
            return;
        }
        string path = Path.Combine(mount, $"ampcan-test-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            // A 64 KiB carveout on a 2 MiB-page filesystem: the file grows to a whole huge page, the map covers it.
            using var a = MappedRegion.MapFile(path, 0x10000, deviceAddress: 0x5000_0000, create: true);
            Assert.That(new FileInfo(path).Length, Is.EqualTo((long)page));
            using (var b = MappedRegion.MapFile(path, 0x10000, deviceAddress: 0x5000_0000))
            {
                a.Io.WriteU64(0x8000, 0x1122_3344_5566_7788);
                Assert.That(b.Io.ReadU64(0x8000), Is.EqualTo(0x1122_3344_5566_7788UL), "both mappings share the huge page");
            }
            var e = Assert.Throws<SharedMemoryException>(() => MappedRegion.MapFile(path, 0x1000, fileOffset: 0x1000))!;
            Assert.That(e.Message, Does.Contain($"page size ({page})"));

            IoRegion view = a.Io;
            a.Dispose();
            Assert.That(a.DetachedFromSharedMemory, Is.True, "the whole huge-page mapping was swapped for private memory");
            Assert.That(view.ReadU64(0x8000), Is.Zero, "a view outliving the region reads private zeros instead of faulting");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void MissingFileErrorNamesThePathAndTheReason()
    {
        var e = Assert.Throws<SharedMemoryException>(() => MappedRegion.MapFile("/dev/shm/ampcan-does-not-exist", 4096));
        Assert.That(e!.Message, Does.Contain("/dev/shm/ampcan-does-not-exist").And.Contain("No such file"));
        Assert.That(e.Errno, Is.EqualTo(2));
    }

    [Test]
    public void UnalignedFileOffsetIsRefusedWithAClearError()
    {
        string path = $"/dev/shm/ampcan-test-{Environment.ProcessId}-{Guid.NewGuid():N}";
        try
        {
            var e = Assert.Throws<SharedMemoryException>(() => MappedRegion.MapFile(path, 4096, fileOffset: 100, create: true));
            Assert.That(e!.Message, Does.Contain(path).And.Contain("offset 0x64").And.Contain($"page size ({Environment.SystemPageSize})"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void MissingUioMapIsNamedInTheError()
    {
        string root = Path.Combine(Path.GetTempPath(), $"ampcan-no-uio-{Guid.NewGuid():N}");
        var e = Assert.Throws<SharedMemoryException>(() => MappedRegion.MapUio(3, 1, sysfsRoot: root));
        Assert.That(e!.Message, Does.Contain("uio3").And.Contain("map 1"));
    }

    [Test]
    public void PhysicalWindowErrorNamesTheDevice()
    {
        var e = Assert.Throws<SharedMemoryException>(() => MappedRegion.MapPhysical(0x1000, 4096, devMemPath: "/dev/ampcan-no-such-mem"));
        Assert.That(e!.Message, Does.Contain("/dev/ampcan-no-such-mem"));
    }

    [Test]
    public void EmptyRegionIsRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => MappedRegion.CreateMemfd("empty", 0));
    }

    [Test]
    public void DisposeDetachesViewsFromTheSharedMemoryWithoutFaulting()
    {
        using var a = MappedRegion.CreateMemfd("t-detach", 4096);
        using var b = MappedRegion.MapMemfd(DuplicateFd(a.FileDescriptor), 4096);
        IoRegion stale = a.Io.Slice(0, 64);
        a.Io.WriteU32(0, 7);
        a.Dispose();

        stale.WriteU32(0, 99); // lands in private memory now
        Assert.Multiple(() =>
        {
            Assert.That(a.IsDisposed, Is.True);
            Assert.That(b.Io.ReadU32(0), Is.EqualTo(7u), "a write through a disposed view must not reach the peer");
            Assert.That(stale.ReadU32(0), Is.EqualTo(99u));
        });
    }

    internal static int DuplicateFd(int fd) => Tmds.Linux.LibC.dup(fd);
}

public class MapAgainTests
{
    [Test]
    public void SecondMappingOfAMemfdSeesTheSameBytes()
    {
        using var a = MappedRegion.CreateMemfd("again", 4096, 0x5000);
        using var b = a.MapAgain();
        a.Io.WriteU32(0x10, 0xFEEDFACE);
        Assert.That(b.Io.ReadU32(0x10), Is.EqualTo(0xFEEDFACE));
        Assert.That(b.DeviceAddress, Is.EqualTo(0x5000UL));
        a.Dispose();
        Assert.That(b.Io.ReadU32(0x10), Is.EqualTo(0xFEEDFACE), "the second mapping lives on its own");
    }

    [Test]
    public void SecondMappingOfAFileSeesTheSameBytes()
    {
        string path = $"/dev/shm/ampcan-again-{Guid.NewGuid():N}";
        try
        {
            using var a = MappedRegion.MapFile(path, 8192, create: true);
            using var b = a.MapAgain();
            b.Io.WriteU64(100, 42);
            Assert.That(a.Io.ReadU64(100), Is.EqualTo(42UL));
        }
        finally { File.Delete(path); }
    }
}

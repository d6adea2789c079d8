using AmpCan.SharedMem;
using static Tmds.Linux.LibC;

namespace AmpCan.Tests.SharedMem;

/// <summary>
/// A /dev/mem window mapped uncached (O_SYNC, device memory: aligned word accesses) or, for a carveout coherent with the
/// remote, cacheable (no O_SYNC, normal memory: the fast path). A file stands in for /dev/mem (physical address = offset).
/// </summary>
public class CacheableWindowTests
{
    private string _devMem = null!;

    [SetUp]
    public void CreateStandIn()
    {
        _devMem = Path.Combine("/dev/shm", $"ampcan-devmem-{Guid.NewGuid():N}");
        using var f = File.Create(_devMem);
        f.SetLength(0x10000);
    }

    [TearDown]
    public void RemoveStandIn() => File.Delete(_devMem);

    [Test]
    public void AnUncachedWindowIsOpenedOSyncAndIsDeviceMemory()
    {
        using MappedRegion w = MappedRegion.MapPhysical(0x4000, 0x1000, devMemPath: _devMem);
        Assert.Multiple(() =>
        {
            Assert.That(MappedRegion.PhysicalOpenFlags(cacheable: false) & O_SYNC, Is.EqualTo(O_SYNC));
            Assert.That(w.Io.Attributes, Is.EqualTo(MemoryAttributes.Device));
        });
    }

    [Test]
    public void ACoherentWindowIsOpenedWithoutOSyncAndIsNormalMemory()
    {
        using MappedRegion w = MappedRegion.MapPhysical(0x4000, 0x1000, devMemPath: _devMem, cacheable: true);
        Assert.Multiple(() =>
        {
            Assert.That(MappedRegion.PhysicalOpenFlags(cacheable: true) & O_SYNC, Is.Zero);
            Assert.That(w.Io.Attributes, Is.EqualTo(MemoryAttributes.Normal));
            Assert.That(w.Kind, Is.EqualTo(MappingKind.PhysicalWindow));
        });
        // The same memory as the file at that offset: a write through the window is there.
        w.Io.WriteU32(0x10, 0xC0FFEE);
        using var f = File.OpenRead(_devMem);
        var b = new byte[4];
        f.Position = 0x4010;
        f.ReadExactly(b);
        Assert.That(BitConverter.ToUInt32(b), Is.EqualTo(0xC0FFEEu));
    }
}

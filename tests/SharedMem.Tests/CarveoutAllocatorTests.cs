using AmpCan.SharedMem;

namespace AmpCan.Tests.SharedMem;

public class CarveoutAllocatorTests
{
    private MappedRegion _region = null!;

    [SetUp]
    public void SetUp() => _region = MappedRegion.CreateMemfd("carve", 0x10000, 0x2000_0100); // device base not page aligned

    [TearDown]
    public void TearDown() => _region.Dispose();

    [Test]
    public void AlignsDeviceAddressesAndPacksFirstFit()
    {
        var alloc = new CarveoutAllocator(_region.Io);
        Carveout small = alloc.Allocate("small", 0x10, 8);
        Carveout ring = alloc.Allocate("vring0", 0x1000, 0x1000);
        Carveout after = alloc.Allocate("after", 0x10, 8);
        Assert.Multiple(() =>
        {
            Assert.That(small.DeviceAddress, Is.EqualTo(0x2000_0100UL));
            Assert.That(ring.DeviceAddress, Is.EqualTo(0x2000_1000UL));
            Assert.That(ring.Offset, Is.EqualTo(0xF00UL));
            Assert.That(after.DeviceAddress, Is.EqualTo(0x2000_0110UL), "the gap before the aligned block is reused");
            Assert.That(alloc.FreeBytes, Is.EqualTo(0x10000UL - 0x1020));
        });
    }

    [Test]
    public void FreedBlocksCoalesceBackIntoOne()
    {
        var alloc = new CarveoutAllocator(_region.Io);
        Carveout[] blocks = Enumerable.Range(0, 8).Select(i => alloc.Allocate($"b{i}", 0x2000)).ToArray();
        Assert.Throws<SharedMemoryException>(() => alloc.Allocate("full", 1));
        foreach (int i in new[] { 3, 1, 2, 0, 7, 5, 6, 4 }) alloc.Free(blocks[i]);
        Carveout whole = alloc.Allocate("whole", 0x10000);
        Assert.That(whole.Offset, Is.EqualTo(0UL));
    }

    [Test]
    public void ErrorsNameTheProblem()
    {
        var alloc = new CarveoutAllocator(_region.Io);
        alloc.Allocate("x", 0x8000);
        var e = Assert.Throws<SharedMemoryException>(() => alloc.Allocate("vdev0buffer", 0x9000));
        Assert.That(e!.Message, Does.Contain("vdev0buffer").And.Contain("largest free block is 32768"));
        Assert.Throws<ArgumentOutOfRangeException>(() => alloc.Allocate("bad", 16, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => alloc.Allocate("empty", 0));
        Carveout c = alloc.Allocate("c", 16);
        alloc.Free(c);
        Assert.Throws<InvalidOperationException>(() => alloc.Free(c));
    }

    [Test]
    public void FreeingACopyLeavesTheRealBlockAllocated()
    {
        var alloc = new CarveoutAllocator(_region.Io);
        Carveout real = alloc.Allocate("real", 0x100);
        Carveout copy = real with { Name = "impostor" };
        Assert.Throws<InvalidOperationException>(() => alloc.Free(copy));
        Assert.That(alloc.Allocated, Is.EqualTo(new[] { real }), "the refused free did not drop the real block");
        alloc.Free(real);
        Assert.That(alloc.FreeBytes, Is.EqualTo(_region.Io.Length));
    }
}

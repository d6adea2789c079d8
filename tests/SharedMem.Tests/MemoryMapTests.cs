using AmpCan.SharedMem;

namespace AmpCan.Tests.SharedMem;

public class MemoryMapTests
{
    private MappedRegion _a = null!, _b = null!;
    private MemoryMap _map = null!;

    [SetUp]
    public void SetUp()
    {
        _a = MappedRegion.CreateMemfd("a", 0x1000, 0x1000_0000);
        _b = MappedRegion.CreateMemfd("b", 0x2000, 0x1000_1000); // adjacent to a
        _map = new MemoryMap(_b.Io, _a.Io);
    }

    [TearDown]
    public void TearDown()
    {
        _a.Dispose();
        _b.Dispose();
    }

    [Test]
    public void TranslatesAddressesInsideOneWindow()
    {
        Assert.That(_map.TryTranslate(0x1000_0010, 0x10, out IoRegion r, out ulong off), Is.True);
        Assert.That((r, off), Is.EqualTo((_a.Io, 0x10UL)));
        Assert.That(_map.TryTranslate(0x1000_2FF0, 0x10, out r, out off), Is.True);
        Assert.That((r, off), Is.EqualTo((_b.Io, 0x1FF0UL)));
        Assert.That(_map.Regions.Select(x => x.Name), Is.EqualTo(new[] { "a", "b" }));
    }

    [TestCase(0x1000_0FF0UL, 0x20UL, Description = "straddles two windows, even adjacent ones")]
    [TestCase(0x0FFF_FFFFUL, 0x2UL, Description = "starts below")]
    [TestCase(0x1000_3000UL, 0UL, Description = "starts at the end")]
    [TestCase(0x1000_2FF0UL, 0x11UL, Description = "runs past the end")]
    [TestCase(0x1000_0000UL, ulong.MaxValue, Description = "length wraps")]
    [TestCase(ulong.MaxValue, 2UL, Description = "address wraps")]
    [TestCase(0UL, 0x10UL, Description = "null")]
    public void RefusesRangesNotWhollyInsideOneWindow(ulong address, ulong length)
    {
        Assert.That(_map.TryTranslate(address, length, out _, out _), Is.False);
        var e = Assert.Throws<SharedMemoryBoundsException>(() => _map.Translate(address, length));
        Assert.That(e!.Message, Does.Contain($"0x{address:x}"));
    }

    [Test]
    public void ZeroLengthRangeInsideAWindowIsAccepted()
    {
        Assert.That(_map.TryTranslate(0x1000_0FFF, 0, out IoRegion r, out ulong off), Is.True);
        Assert.That((r, off), Is.EqualTo((_a.Io, 0xFFFUL)));
    }

    [Test]
    public void OverlappingWindowIsRefused()
    {
        using var c = MappedRegion.CreateMemfd("c", 0x1000, 0x1000_2800);
        var e = Assert.Throws<ArgumentException>(() => _map.Add(c.Io));
        Assert.That(e!.Message, Does.Contain("overlaps").And.Contain("'b'"));
    }

    [Test]
    public void WindowThatWrapsTheAddressSpaceIsRefused()
    {
        using var c = MappedRegion.CreateMemfd("c", 0x2000, ulong.MaxValue - 0xFFF);
        Assert.Throws<ArgumentException>(() => _map.Add(c.Io));
    }

    [Test]
    public void RemovedWindowNoLongerTranslates()
    {
        Assert.That(_map.Remove(_a.Io), Is.True);
        Assert.That(_map.TryTranslate(0x1000_0010, 1, out _, out _), Is.False);
        Assert.That(_map.Remove(_a.Io), Is.False);
    }
}

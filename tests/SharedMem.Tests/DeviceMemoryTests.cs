using AmpCan.SharedMem;

namespace AmpCan.Tests.SharedMem;

/// <summary>
/// The memory policy a region carries: device memory (a /dev/mem window, a UIO map, or memory said to be a device's) is
/// copied word by word, aligned, and those copies move exactly the bytes an ordinary copy moves, at every alignment.
/// </summary>
public class DeviceMemoryTests
{
    [Test]
    public void MemfdsAreNormalMemoryAndAViewCanBeMadeDeviceMemoryWhichItsSlicesKeep()
    {
        using var m = MappedRegion.CreateMemfd("attributes", 0x1000);
        Assert.That(m.Io.Attributes, Is.EqualTo(MemoryAttributes.Normal));
        IoRegion device = m.Io.AsDeviceMemory();
        Assert.That(device.Attributes, Is.EqualTo(MemoryAttributes.Device));
        Assert.That(device.Slice(0x10, 0x20).Attributes, Is.EqualTo(MemoryAttributes.Device));
        Assert.That(m.Io.Slice(0x10, 0x20).Attributes, Is.EqualTo(MemoryAttributes.Normal), "the mapping's own view is unchanged");
        Assert.That(m.ViewAt(0x9000).Attributes, Is.EqualTo(MemoryAttributes.Normal));
    }

    [Test]
    public void CopiesIntoAndOutOfDeviceMemoryAreExactAtEveryAlignmentAndLength()
    {
        using var m = MappedRegion.CreateMemfd("device-copy", 0x1000);
        IoRegion device = m.Io.AsDeviceMemory();
        byte[] source = [.. Enumerable.Range(1, 80).Select(i => (byte)(i * 37))];
        for (int offset = 0; offset < 16; offset++)
        {
            for (int length = 0; length <= 40; length++)
            {
                m.Io.Clear(0, 0x100);
                device.Write((ulong)offset, source.AsSpan(3, length)); // an unaligned source too
                byte[] all = new byte[0x100];
                m.Io.Read(0, all);
                Assert.That(all.AsSpan(offset, length).ToArray(), Is.EqualTo(source.AsSpan(3, length).ToArray()), $"written at +{offset}, {length} bytes");
                Assert.That(all.AsSpan(0, offset).ToArray().All(b => b == 0) && all.AsSpan(offset + length).ToArray().All(b => b == 0), Is.True,
                    $"nothing outside +{offset}, {length} bytes was touched");
                byte[] back = new byte[length];
                device.Read((ulong)offset, back);
                Assert.That(back, Is.EqualTo(source.AsSpan(3, length).ToArray()), $"read at +{offset}, {length} bytes");
            }
        }
    }

    [Test]
    public void WireStructsGoInAndOutOfDeviceMemoryWhole()
    {
        using var m = MappedRegion.CreateMemfd("device-struct", 0x1000);
        IoRegion device = m.Io.AsDeviceMemory();
        var value = (A: 0x1122334455667788UL, B: 0x99AABBCCu);
        device.Write(4, value); // 12 bytes at a 4-byte boundary, as a used element sits
        Assert.That(m.Io.ReadU64(4), Is.EqualTo(0x1122334455667788UL));
        Assert.That(m.Io.ReadU32(12), Is.EqualTo(0x99AABBCCu));
        Assert.That(device.Read<(ulong, uint)>(4), Is.EqualTo(value));
    }
}

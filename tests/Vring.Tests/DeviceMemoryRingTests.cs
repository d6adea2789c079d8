using AmpCan.SharedMem;
using AmpCan.Vring;

namespace AmpCan.Tests.Vring;

/// <summary>
/// A ring and its buffers in device memory (a memfd window said to be a device's, as a /dev/mem or UIO map is): both
/// roles run over it, with and without event indices and indirect tables, the bytes arrive exactly, and no span into
/// device memory is handed out (a buffer segment is read and written by copy).
/// </summary>
public class DeviceMemoryRingTests
{
    private const ulong Base = 0x4000_0000;

    [TestCase(false, false)]
    [TestCase(true, false)]
    [TestCase(false, true)]
    [TestCase(true, true)]
    public void ChainsTravelBothWaysThroughARingInDeviceMemory(bool eventIndex, bool indirect)
    {
        using MappedRegion region = MappedRegion.CreateMemfd("device-ring", 0x40000, Base);
        // Something to clear: the driver zeroes the ring areas word by word (memset_io) before the device looks.
        region.Io.GetSpan(0, 0x4000).Fill(0xA5);
        IoRegion device = region.Io.AsDeviceMemory();
        var memory = new MemoryMap(device);
        const int size = 16;
        var ring = SplitRing.Legacy(device.Slice(0, VringLayout.LegacySize(size, 4096)), size, 4096);
        var driver = new SplitVirtqueueDriver(ring, eventIndex);
        foreach (IoRegion area in new[] { ring.Descriptors, ring.Available, ring.Used })
        {
            byte[] bytes = new byte[area.Length];
            area.Read(0, bytes);
            Assert.That(bytes.Any(b => b != 0), Is.False, $"{area} was cleared");
        }
        if (indirect) driver.UseIndirectTables(device.Slice(0x20000, (ulong)size * 4 * 16), 4);
        var queue = new SplitVirtqueueDevice(ring, memory, eventIndex, indirect);

        var random = new Random(13);
        for (int round = 0; round < 100; round++)
        {
            // Odd lengths at odd addresses, so that the copies start and end off word boundaries.
            int requestLength = 1 + random.Next(300), replyRoom = 1 + random.Next(300);
            ulong request = 0x10000 + (ulong)(round % 8) * 0x400 + (ulong)random.Next(8);
            ulong reply = request + 0x200 + (ulong)random.Next(8);
            byte[] sent = new byte[requestLength];
            random.NextBytes(sent);
            device.Write(request, sent);
            VirtqBuffer[] writable = replyRoom > 100
                ? [new VirtqBuffer(Base + reply, 100), new VirtqBuffer(Base + reply + 100, (uint)replyRoom - 100)]
                : [new VirtqBuffer(Base + reply, (uint)replyRoom)];
            Assert.That(driver.TryAdd([new VirtqBuffer(Base + request, (uint)requestLength)], writable, token: round), Is.True);
            driver.KickPrepare();

            Assert.That(queue.TryPop(out DescriptorChain chain), Is.True, $"round {round}");
            Assert.That(chain.Readable[0].IsDeviceMemory, Is.True);
            Assert.Throws<InvalidOperationException>(() => _ = chain.Readable[0].Span, "no span into a buffer in device memory");
            byte[] got = new byte[requestLength];
            chain.Readable[0].Read(0, got);
            Assert.That(got, Is.EqualTo(sent), $"round {round}: request");

            // The reply: the request reversed, as much as fits, scattered over the writable segments.
            byte[] answer = [.. sent.Reverse().Take(replyRoom)];
            int at = 0;
            foreach (BufferSegment s in chain.Writable)
            {
                int n = Math.Min((int)s.Length, answer.Length - at);
                s.Write(0, answer.AsSpan(at, n));
                at += n;
            }
            queue.AddUsed(chain.Head, (uint)answer.Length);
            queue.PublishUsed();

            Assert.That(driver.TryGetUsed(out UsedBuffer used), Is.True);
            Assert.That((used.Token, used.Length), Is.EqualTo((round, (uint)answer.Length)));
            byte[] back = new byte[answer.Length];
            device.Read(reply, back);
            Assert.That(back, Is.EqualTo(answer), $"round {round}: reply");
        }
    }

    [Test]
    public void ASegmentCopiesOnlyInsideItsBuffer()
    {
        using MappedRegion region = MappedRegion.CreateMemfd("device-segment", 0x1000, Base);
        var segment = new BufferSegment(region.Io.AsDeviceMemory(), 0x100, 16, Base + 0x100, IsWritable: true);
        Assert.Throws<ArgumentOutOfRangeException>(() => segment.Write(10, new byte[7]));
        Assert.Throws<ArgumentOutOfRangeException>(() => segment.Read(17, new byte[0]));
        Assert.Throws<InvalidOperationException>(() => segment.Slice(0, 4));
        segment.Write(9, [1, 2, 3, 4, 5, 6, 7]);
        Assert.That(region.Io.GetSpan(0x100, 17).ToArray(), Is.EqualTo(new byte[] { 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 0 }));
    }
}

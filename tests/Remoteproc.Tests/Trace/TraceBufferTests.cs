using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Trace;
using AmpCan.SharedMem;

namespace AmpCan.Tests.Remoteproc.Trace;

/// <summary>A trace entry mapped through the remote's memory map, and the snapshot Linux's debugfs file would show.</summary>
public class TraceBufferTests
{
    [Test]
    public void AnEntryIsMappedToExactlyItsBytesAndTheSnapshotStopsAtTheFirstNul()
    {
        using MappedRegion shm = MappedRegion.CreateMemfd("shm", 0x4000, 0x3000_0000);
        shm.Io.GetSpan(0, 0x4000).Fill((byte)'G');
        var map = new MemoryMap(shm.Io);
        TraceBuffer buffer = TraceBuffer.Map(map, new TraceResource(3, 0x3000_2000, 0x20, "cm4_log"), 0);
        Assert.That((buffer.DeviceAddress, buffer.Length, buffer.Name, buffer.Index), Is.EqualTo((0x3000_2000UL, 0x20, "cm4_log", 0)));

        byte[] copy = new byte[0x20];
        Assert.That(buffer.Snapshot(copy), Is.EqualTo(0x20), "no NUL: the whole buffer, and not a byte past it");
        shm.Io.WriteU8(0x2005, 0);
        Assert.That(buffer.Snapshot(copy), Is.EqualTo(5));
        Assert.That(buffer.ReadText(), Is.EqualTo("GGGGG"u8.ToArray()));
        Assert.That(() => buffer.Snapshot(new byte[0x1f]), Throws.ArgumentException);
    }

    [Test]
    public void AnEntryTheMapCannotHoldIsRefusedNamingIt()
    {
        using MappedRegion shm = MappedRegion.CreateMemfd("shm", 0x4000, 0x3000_0000);
        var map = new MemoryMap(shm.Io);
        Assert.That(() => TraceBuffer.Map(map, new TraceResource(2, 0x3000_3ff0, 0x20, "log"), 0),
            Throws.TypeOf<ResourceTableException>().With.Message.EqualTo("resource entry 2 (trace \"log\", da 0x30003ff0, len 0x20): the buffer is not inside the remote's mapped memory"));
        Assert.That(() => TraceBuffer.Map(map, new TraceResource(2, 0x1000, 0x20, "log"), 0),
            Throws.TypeOf<ResourceTableException>().With.Message.Contains("not inside"));
        Assert.That(() => TraceBuffer.Map(map, new TraceResource(4, 0x3000_0000, 0, "empty"), 0),
            Throws.TypeOf<ResourceTableException>().With.Message.EqualTo("resource entry 4 (trace \"empty\", da 0x30000000, len 0x0): the buffer is empty"));
        Assert.That(() => TraceBuffer.Map(map, new TraceResource(5, 0x3000_0000, TraceBuffer.MaxLength + 1, "huge"), 0),
            Throws.TypeOf<ResourceTableException>().With.Message.Contains("longer than the 1048576 bytes"));
        Assert.That(() => TraceBuffer.Map(map, new TraceResource(6, 0x3000_0000, 0x10, "bad\u001b[2Jname"), 0).ToString(),
            Is.EqualTo("trace 0 \"bad\\x1b[2Jname\" [0x30000000+0x10]"), "the name is the remote's: escaped when shown");
    }
}

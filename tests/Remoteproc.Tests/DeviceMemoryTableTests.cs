using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Trace;
using AmpCan.SharedMem;
using AmpCan.Vring;

namespace AmpCan.Tests.Remoteproc;

/// <summary>
/// The resource table and a trace buffer in device memory (the remote's SRAM mapped through /dev/mem): parsed, read
/// and written back field by field and byte for byte as in ordinary memory, with no span into the window (one would
/// throw).
/// </summary>
public class DeviceMemoryTableTests
{
    private const ulong Base = 0x1000_0000;
    private const uint RpmsgDeviceId = 7; // VIRTIO_ID_RPMSG
    private const int NameServiceBit = 0; // VIRTIO_RPMSG_F_NS

    [Test]
    public void ATableInDeviceMemoryIsParsedAndWrittenBackExactly()
    {
        using MappedRegion sram = MappedRegion.CreateMemfd("sram", 0x4000, Base);
        IoRegion device = sram.Io.AsDeviceMemory();
        byte[] config = [0x11, 0x22, 0x33, 0x44, 0x55]; // an odd length: the copy ends off a word boundary
        byte[] table = new ResourceTableBuilder()
            .Carveout(0x1000_2000, 0x1000_2000, 0x1000, 0, "buffers")
            .Trace(0x1000_3000, 0x40, "cm4_log")
            .Vdev(RpmsgDeviceId, 7, 1u << NameServiceBit, [new VringSpec(0xFFFF_FFFF, 16, 16, 1), new VringSpec(0xFFFF_FFFF, 16, 16, 2)], config)
            .Build();
        device.Write(0x100, table);
        Assert.That(sram.Io.GetSpan(0x100, table.Length).ToArray(), Is.EqualTo(table));

        ResourceTable parsed = ResourceTable.Parse(device.Slice(0x100, 0x1000));
        Assert.That(parsed.Window.Attributes, Is.EqualTo(MemoryAttributes.Device));
        Assert.That(parsed.Carveouts.Single().Name, Is.EqualTo("buffers"));
        VdevResource vdev = parsed.Vdevs.Single();
        Assert.That((vdev.DeviceId, vdev.NotifyId, vdev.DeviceFeatures, vdev.ConfigLength), Is.EqualTo((RpmsgDeviceId, 7u, 1UL << NameServiceBit, 5)));
        byte[] seen = new byte[5];
        vdev.ReadConfig(0, seen);
        Assert.That(seen, Is.EqualTo(config));

        vdev.DriverFeatures = 1UL << NameServiceBit;
        vdev.SetVringAddress(1, 0x1000_1000);
        vdev.WriteConfig(1, [0xA1, 0xA2, 0xA3]);
        vdev.Status = VirtioStatus.Acknowledge | VirtioStatus.Driver;
        ResourceTable again = ResourceTable.Parse(sram.Io.Slice(0x100, 0x1000)); // the ordinary view sees the same bytes
        VdevResource v = again.Vdevs.Single();
        Assert.That((v.DriverFeatures, v.Vring(1).DeviceAddress, v.Status), Is.EqualTo((1UL << NameServiceBit, 0x1000_1000u, VirtioStatus.Acknowledge | VirtioStatus.Driver)));
        v.ReadConfig(0, seen);
        Assert.That(seen, Is.EqualTo(new byte[] { 0x11, 0xA1, 0xA2, 0xA3, 0x55 }));
    }

    [Test]
    public void ATraceBufferInDeviceMemoryIsSnapshotExactly()
    {
        using MappedRegion sram = MappedRegion.CreateMemfd("sram", 0x4000, Base);
        sram.Io.GetSpan(0x3000, 0x40).Fill((byte)'x');
        sram.Io.Write(0x3003, "boot ok\n"u8);
        sram.Io.WriteU8(0x300B, 0);
        TraceBuffer buffer = TraceBuffer.Map(new MemoryMap(sram.Io.AsDeviceMemory()), new TraceResource(1, (uint)Base + 0x3000, 0x3F, "cm4_log"), 0);
        Assert.That(buffer.Region.Attributes, Is.EqualTo(MemoryAttributes.Device));
        Assert.That(buffer.ReadText(), Is.EqualTo("xxxboot ok\n"u8.ToArray()));
        sram.Io.WriteU8(0x300B, (byte)'y');
        sram.Io.GetSpan(0x3000, 0x40).Slice(0x3F).Fill(0);
        Assert.That(buffer.ReadText().Length, Is.EqualTo(0x3F), "no NUL within its 0x3f bytes: all of them, not the NUL after");
    }
}

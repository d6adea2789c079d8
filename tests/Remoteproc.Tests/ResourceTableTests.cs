using AmpCan.Remoteproc;
using AmpCan.SharedMem;
using AmpCan.Vring;

namespace AmpCan.Tests.Remoteproc;

public class ResourceTableTests
{
    // The table OpenAMP's Linux machine port writes: one rpmsg vdev, feature NS, vrings at 0x4000/0x8000.
    private static readonly byte[] OpenAmpLike =
    [
        0x01, 0, 0, 0,  0x01, 0, 0, 0,  0, 0, 0, 0,  0, 0, 0, 0,   // ver 1, num 1, reserved
        0x14, 0, 0, 0,                                               // offset[0] = 20
        0x03, 0, 0, 0,                                               // RSC_VDEV
        0x07, 0, 0, 0,  0x00, 0, 0, 0,                               // id 7, notifyid 0
        0x01, 0, 0, 0,  0x00, 0, 0, 0,                               // dfeatures NS, gfeatures 0
        0x00, 0, 0, 0,  0x00, 0x02, 0, 0,                            // config_len 0, status 0, 2 vrings, reserved
        0x00, 0x40, 0, 0,  0x00, 0x10, 0, 0,  0x00, 0x01, 0, 0,  0x01, 0, 0, 0,  0, 0, 0, 0,   // vring0
        0x00, 0x80, 0, 0,  0x00, 0x10, 0, 0,  0x00, 0x01, 0, 0,  0x02, 0, 0, 0,  0, 0, 0, 0,   // vring1
    ];

    [Test]
    public void BuilderWritesTheLiteralBytes()
    {
        byte[] t = new ResourceTableBuilder().Vdev(7, 0, 1, [new VringSpec(0x4000, 0x1000, 256, 1), new VringSpec(0x8000, 0x1000, 256, 2)]).Build();
        Assert.That(t, Is.EqualTo(OpenAmpLike));
    }

    [Test]
    public void ParsesAndExposesALiveVdev()
    {
        using var shm = MappedRegion.CreateMemfd("rsc", 0x1000);
        shm.Io.Write(0, OpenAmpLike);
        ResourceTable table = ResourceTable.Parse(shm.Io);
        VdevResource v = table.Vdevs.Single();
        Assert.Multiple(() =>
        {
            Assert.That(v.DeviceId, Is.EqualTo(7u));
            Assert.That(v.DeviceFeatures, Is.EqualTo(1UL));
            Assert.That(v.QueueCount, Is.EqualTo(2));
            Assert.That(v.Vring(1), Is.EqualTo(new VringResource(1, 0x8000, 0x1000, 256, 2)));
        });
        v.DriverFeatures = 1;
        v.Status = VirtioStatus.Acknowledge | VirtioStatus.Driver | VirtioStatus.DriverOk;
        Assert.That(shm.Io.ReadU32(20 + 16), Is.EqualTo(1u), "gfeatures at entry offset 16");
        Assert.That(shm.Io.ReadU8(20 + 24), Is.EqualTo(7), "status at entry offset 24");
        Assert.Throws<ArgumentOutOfRangeException>(() => v.DriverFeatures = 1UL << 32);
    }

    [Test]
    public void CarveoutTraceAndConfigSpace()
    {
        byte[] t = new ResourceTableBuilder()
            .Carveout(0x1000_0000, 0x8000_0000, 0x10000, 0, "text")
            .Trace(0x1002_0000, 0x1000, "trace0")
            .Vdev(36, 5, 0xF, [new VringSpec(0xFFFF_FFFF, 16, 64, 0x50), new VringSpec(0xFFFF_FFFF, 16, 64, 0x51), new VringSpec(0xFFFF_FFFF, 16, 64, 0x52)], [0x01, 0x00])
            .Build();
        using var shm = MappedRegion.CreateMemfd("rsc", 0x1000);
        shm.Io.Write(0, t);
        ResourceTable table = ResourceTable.Parse(shm.Io.Slice(0, (ulong)t.Length));
        Assert.That(table.Carveouts.Single(), Is.EqualTo(new CarveoutResource(0, AmpCan.Remoteproc.Wire.ResourceType.Carveout, 0x1000_0000, 0x8000_0000, 0x10000, 0, "text")));
        Assert.That(table.Traces.Single(), Is.EqualTo(new TraceResource(1, 0x1002_0000, 0x1000, "trace0")));
        VdevResource can = table.Vdevs.Single();
        Assert.That(can.QueueCount, Is.EqualTo(3), "three vrings, which Linux's remoteproc cannot carry");
        byte[] cfg = new byte[2];
        can.ReadConfig(0, cfg);
        Assert.That(cfg, Is.EqualTo(new byte[] { 1, 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => can.ReadConfig(1, new byte[2]));
        can.SetVringAddress(2, 0x1003_0000);
        Assert.That(can.Vring(2).DeviceAddress, Is.EqualTo(0x1003_0000u));
    }

    [TestCase(0, 2u, "version 2")]
    [TestCase(4, 1000u, "claims 1000 entries")]
    [TestCase(16, 0xFFFFu, "outside the table")]
    [TestCase(20, 9u, "unknown type 9")]
    [TestCase(45, 0u, "vring 0: invalid queue size")]
    [TestCase(45, 3u, "queue size 3")]
    [TestCase(48, 6u, "alignment 6")]
    [TestCase(40, 4000u, "config bytes")]
    [TestCase(47, 0x4010u, "vring 0: device address 0x4010 is not aligned")]
    public void MalformedTablesAreRefusedWithTheFieldNamed(int offset, uint value, string expected)
    {
        byte[] t = (byte[])OpenAmpLike.Clone();
        if (offset == 45) { BitConverter.GetBytes(value).CopyTo(t, 56); }        // vring0 num
        else if (offset == 48) { BitConverter.GetBytes(value).CopyTo(t, 52); }   // vring0 align
        else if (offset == 47) { BitConverter.GetBytes(value).CopyTo(t, 48); }   // vring0 da
        else BitConverter.GetBytes(value).CopyTo(t, offset);
        using var shm = MappedRegion.CreateMemfd("rsc", 0x1000);
        shm.Io.Write(0, t);
        var e = Assert.Throws<ResourceTableException>(() => ResourceTable.Parse(shm.Io.Slice(0, (ulong)t.Length)))!;
        Assert.That(e.Message, Does.Contain(expected));
    }

    [Test]
    public void VendorEntriesAreSkipped()
    {
        byte[] t = (byte[])OpenAmpLike.Clone();
        BitConverter.GetBytes(200u).CopyTo(t, 20);
        using var shm = MappedRegion.CreateMemfd("rsc", 0x1000);
        shm.Io.Write(0, t);
        Assert.That(ResourceTable.Parse(shm.Io.Slice(0, (ulong)t.Length)).Vdevs, Is.Empty);
    }
}

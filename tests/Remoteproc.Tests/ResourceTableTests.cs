using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Wire;
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
        v.DriverFeatures = 1UL << 32 | 1;
        Assert.That(v.DriverFeatures, Is.EqualTo(1UL), "a vdev without the high-feature-word entry keeps bits 0-31 only");
    }

    // A carveout, a trace buffer and a three-queue vdev with two config bytes, laid out by hand from Linux's
    // include/linux/remoteproc.h (all structs __packed, fields little-endian):
    //   struct resource_table  { u32 ver; u32 num; u32 reserved[2]; u32 offset[]; }
    //   struct fw_rsc_hdr      { u32 type; u8 data[]; }                 (type: RSC_CARVEOUT 0, RSC_TRACE 2, RSC_VDEV 3)
    //   struct fw_rsc_carveout { u32 da; u32 pa; u32 len; u32 flags; u32 reserved; u8 name[32]; }
    //   struct fw_rsc_trace    { u32 da; u32 len; u32 reserved; u8 name[32]; }
    //   struct fw_rsc_vdev     { u32 id; u32 notifyid; u32 dfeatures; u32 gfeatures; u32 config_len;
    //                            u8 status; u8 num_of_vrings; u8 reserved[2]; struct fw_rsc_vdev_vring vring[]; }  + config
    //   struct fw_rsc_vdev_vring { u32 da; u32 align; u32 num; u32 notifyid; u32 pa; }
    // Entries at 28 (16-byte header + 3 offsets), 28 + 4 + 52 = 84, 84 + 4 + 44 = 132; the vdev's 4 + 24 + 3 * 20 + 2
    // = 90 bytes end at 222, padded to 224.
    private static readonly byte[] CarveoutTraceVdev =
    [
        0x01, 0, 0, 0,  0x03, 0, 0, 0,  0, 0, 0, 0,  0, 0, 0, 0,                 // ver 1, num 3, reserved[2]
        28, 0, 0, 0,  84, 0, 0, 0,  132, 0, 0, 0,                                 // offset[3]
        // @28 RSC_CARVEOUT
        0x00, 0, 0, 0,                                                            // type 0
        0x00, 0x00, 0x00, 0x10,  0x00, 0x00, 0x00, 0x80,                          // da 0x10000000, pa 0x80000000
        0x00, 0x00, 0x01, 0x00,  0x00, 0, 0, 0,  0x00, 0, 0, 0,                   // len 0x10000, flags 0, reserved 0
        (byte)'t', (byte)'e', (byte)'x', (byte)'t', .. new byte[28],              // name[32] "text"
        // @84 RSC_TRACE
        0x02, 0, 0, 0,                                                            // type 2
        0x00, 0x00, 0x02, 0x10,  0x00, 0x10, 0x00, 0x00,  0x00, 0, 0, 0,          // da 0x10020000, len 0x1000, reserved 0
        (byte)'t', (byte)'r', (byte)'a', (byte)'c', (byte)'e', (byte)'0', .. new byte[26], // name[32] "trace0"
        // @132 RSC_VDEV
        0x03, 0, 0, 0,                                                            // type 3
        36, 0, 0, 0,  0x05, 0, 0, 0,                                              // id 36 (virtio-can), notifyid 5
        0x0F, 0, 0, 0,  0x00, 0, 0, 0,  0x02, 0, 0, 0,                            // dfeatures 0xF, gfeatures 0, config_len 2
        0x00, 0x03, 0x00, 0x00,                                                   // status 0, num_of_vrings 3, reserved[2]
        0xFF, 0xFF, 0xFF, 0xFF,  16, 0, 0, 0,  64, 0, 0, 0,  0x50, 0, 0, 0,  0, 0, 0, 0,   // vring0: da ANY, align 16, num 64, notifyid 0x50, pa
        0xFF, 0xFF, 0xFF, 0xFF,  16, 0, 0, 0,  64, 0, 0, 0,  0x51, 0, 0, 0,  0, 0, 0, 0,   // vring1 @180
        0xFF, 0xFF, 0xFF, 0xFF,  16, 0, 0, 0,  64, 0, 0, 0,  0x52, 0, 0, 0,  0, 0, 0, 0,   // vring2 @200
        0x01, 0x00,                                                               // config[2] @220
        0x00, 0x00,                                                               // padding to a 4-byte boundary
    ];

    [Test]
    public void BuilderWritesCarveoutTraceAndVdevAsRemoteprocHLaysThemOut()
    {
        byte[] t = new ResourceTableBuilder()
            .Carveout(0x1000_0000, 0x8000_0000, 0x10000, 0, "text")
            .Trace(0x1002_0000, 0x1000, "trace0")
            .Vdev(36, 5, 0xF, [new VringSpec(0xFFFF_FFFF, 16, 64, 0x50), new VringSpec(0xFFFF_FFFF, 16, 64, 0x51), new VringSpec(0xFFFF_FFFF, 16, 64, 0x52)], [0x01, 0x00])
            .Build();
        Assert.That(t, Is.EqualTo(CarveoutTraceVdev));
    }

    [Test]
    public void CarveoutTraceAndConfigSpaceParseFromLiteralBytes()
    {
        using var shm = MappedRegion.CreateMemfd("rsc", 0x1000);
        ResourceTable table = ParseBytes(CarveoutTraceVdev, shm);
        Assert.That(table.Carveouts.Single(), Is.EqualTo(new CarveoutResource(0, ResourceType.Carveout, 0x1000_0000, 0x8000_0000, 0x10000, 0, "text")));
        Assert.That(table.Traces.Single(), Is.EqualTo(new TraceResource(1, 0x1002_0000, 0x1000, "trace0")));
        VdevResource can = table.Vdevs.Single();
        Assert.Multiple(() =>
        {
            Assert.That((can.Index, can.Offset, can.DeviceId, can.NotifyId, can.DeviceFeatures), Is.EqualTo((2, 132UL, 36u, 5u, 0xFUL)));
            Assert.That(can.QueueCount, Is.EqualTo(3), "three vrings, which Linux's remoteproc cannot carry");
            Assert.That(can.Vring(1), Is.EqualTo(new VringResource(1, 0xFFFF_FFFF, 16, 64, 0x51)));
            Assert.That(table.Skipped, Is.Empty);
        });
        byte[] cfg = new byte[2];
        can.ReadConfig(0, cfg);
        Assert.That(cfg, Is.EqualTo(new byte[] { 1, 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => can.ReadConfig(1, new byte[2]));
        can.SetVringAddress(2, 0x1003_0000);
        Assert.That(can.Vring(2).DeviceAddress, Is.EqualTo(0x1003_0000u));
        Assert.That(shm.Io.ReadU32(200), Is.EqualTo(0x1003_0000u), "vring2.da is at 132 + 28 + 2 * 20");
        can.WriteConfig(1, [0x7F]);
        Assert.That(shm.Io.ReadU8(221), Is.EqualTo(0x7F), "config follows the vrings, at 132 + 28 + 3 * 20");
    }

    [TestCase(0, 2u, "version 2")]
    [TestCase(4, 1000u, "claims 1000 entries")]
    [TestCase(16, 0xFFFFu, "outside the table")]
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

    private static ResourceTable ParseBytes(byte[] t, MappedRegion shm)
    {
        shm.Io.Write(0, t);
        return ResourceTable.Parse(shm.Io.Slice(0, (ulong)t.Length));
    }

    private static byte[] U32s(params uint[] words) => words.SelectMany(BitConverter.GetBytes).ToArray();

    [Test]
    public void UnknownAndVendorTypesAreSkippedAndReportedAsLinuxDoes()
    {
        // rproc_handle_resources (drivers/remoteproc/remoteproc_core.c) warns "unsupported resource %d" for a type at or
        // past RSC_LAST and "unsupported vendor resource %d" for RSC_VENDOR_START..RSC_VENDOR_END (both included), and
        // goes on with the next entry. Offsets: header 16 + 5 offsets = 36; then 4, 4, 8 (fw_rsc_vendor with len) and 4 bytes.
        byte[] t =
        [
            .. U32s(1, 5, 0, 0, 36, 40, 44, 52, 56),
            .. U32s(9),                      // 36: between RSC_LAST and RSC_VENDOR_START
            .. U32s(4),                      // 40: RSC_LAST itself (OpenAMP's old RSC_RPROC_MEM)
            .. U32s(512, 0),                 // 44: RSC_VENDOR_END, a vendor type; OpenAMP's fw_rsc_vendor { type; len }
            .. U32s(513),                    // 52: past the vendor range
            .. OpenAmpLike[20..],            // 56: the rpmsg vdev
        ];
        using var shm = MappedRegion.CreateMemfd("rsc", 0x1000);
        ResourceTable table = ParseBytes(t, shm);
        Assert.Multiple(() =>
        {
            Assert.That(table.Vdevs.Single().Index, Is.EqualTo(4), "the entries after the skipped ones are still read");
            Assert.That(table.Skipped, Is.EqualTo(new[]
            {
                new SkippedResource(0, 9, 36), new SkippedResource(1, 4, 40), new SkippedResource(2, 512, 44), new SkippedResource(3, 513, 52),
            }));
            Assert.That(table.Skipped.Select(r => r.IsVendor), Is.EqualTo(new[] { false, false, true, false }));
            Assert.That(table.Skipped[0].Description, Is.EqualTo("resource entry 0 at 0x24: unsupported resource type 9, skipped"));
            Assert.That(table.Skipped[2].Description, Is.EqualTo("resource entry 2 at 0x2c: unsupported vendor resource type 512, skipped"));
        });
    }

    [TestCase(ResourceType.Carveout, 20, "carveout")]
    [TestCase(ResourceType.DevMem, 20, "devmem")]
    [TestCase(ResourceType.Trace, 12, "trace")]
    public void NonZeroReservedWordsAreRefusedAsLinuxDoes(ResourceType type, int reservedAt, string what)
    {
        var b = new ResourceTableBuilder();
        byte[] t = type == ResourceType.Trace ? b.Trace(0x1000, 0x100, "t").Build() : b.Carveout(0x1000, 0, 0x100, 0, "c").Build();
        BitConverter.GetBytes((uint)type).CopyTo(t, 20);
        BitConverter.GetBytes(1u).CopyTo(t, 20 + reservedAt);
        using var shm = MappedRegion.CreateMemfd("rsc", 0x1000);
        var e = Assert.Throws<ResourceTableException>(() => ParseBytes(t, shm))!;
        Assert.That(e.Message, Does.Contain($"resource entry 0 ({what}) at 0x14").And.Contain("reserved"));
    }

    [TestCase(26)]
    [TestCase(27)]
    public void NonZeroReservedBytesOfAVdevAreRefusedAsLinuxDoes(int at)
    {
        byte[] t = (byte[])OpenAmpLike.Clone();
        t[20 + at] = 1;
        using var shm = MappedRegion.CreateMemfd("rsc", 0x1000);
        var e = Assert.Throws<ResourceTableException>(() => ParseBytes(t, shm))!;
        Assert.That(e.Message, Does.Contain("vdev 0").And.Contain("reserved"));
    }

    [Test]
    public void ATableWithNothingToSkipSkipsNothing()
    {
        using var shm = MappedRegion.CreateMemfd("rsc", 0x1000);
        Assert.That(ParseBytes(OpenAmpLike, shm).Skipped, Is.Empty);
    }

    [Test]
    public void VendorEntriesAreSkipped()
    {
        byte[] t = (byte[])OpenAmpLike.Clone();
        BitConverter.GetBytes(200u).CopyTo(t, 20);
        using var shm = MappedRegion.CreateMemfd("rsc", 0x1000);
        ResourceTable table = ParseBytes(t, shm);
        Assert.That(table.Vdevs, Is.Empty);
        Assert.That(table.Skipped.Single(), Is.EqualTo(new SkippedResource(0, 200, 20)));
    }
}

using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Wire;
using AmpCan.SharedMem;
using AmpCan.Vring;

namespace AmpCan.Tests.Remoteproc.ResourceTables;

/// <summary>AmpCan's vendor entry that carries a vdev's feature bits 32 to 63 (VIRTIO_F_VERSION_1 is bit 32).</summary>
public class FeaturesHighTests
{
    private const ulong Version1 = 1UL << VirtioRingFeatures.Version1;

    // A virtio-can vdev offering VERSION_1 | 0xF, one vring, two config bytes, then its high feature word.
    // Header 16 + 2 offsets = 24; the vdev's 28 + 20 + 2 = 50 bytes pad to 52, so the extension sits at 76.
    private static readonly byte[] CanWithVersion1 =
    [
        0x01, 0, 0, 0,  0x02, 0, 0, 0,  0, 0, 0, 0,  0, 0, 0, 0,          // ver 1, num 2, reserved[2]
        24, 0, 0, 0,  76, 0, 0, 0,                                         // offset[2]
        // @24 RSC_VDEV
        0x03, 0, 0, 0,  36, 0, 0, 0,  0x05, 0, 0, 0,                       // type 3, id 36, notifyid 5
        0x0F, 0, 0, 0,  0x00, 0, 0, 0,  0x02, 0, 0, 0,                     // dfeatures 0xF (bits 0-31), gfeatures 0, config_len 2
        0x00, 0x01, 0x00, 0x00,                                            // status 0, 1 vring, reserved[2]
        0xFF, 0xFF, 0xFF, 0xFF,  16, 0, 0, 0,  64, 0, 0, 0,  0x50, 0, 0, 0,  0, 0, 0, 0, // vring0: da ANY, align 16, num 64, notifyid 0x50
        0x01, 0x00,  0x00, 0x00,                                           // config[2], padding
        // @76 AmpCan high feature word, type 0x1AC (vendor range 128..512)
        0xAC, 0x01, 0, 0,  24, 0, 0, 0,                                    // type 428, len 24 (OpenAMP fw_rsc_vendor's two words)
        0x00, 0, 0, 0,  0x00, 0, 0, 0,                                     // vdev_index 0, reserved 0
        0x01, 0, 0, 0,  0x00, 0, 0, 0,                                     // dfeatures_hi: bit 32 (VERSION_1), gfeatures_hi 0
    ];

    private static readonly VringSpec[] OneRing = [new VringSpec(ResourceTableLayout.AddressAny, 16, 64, 0x50)];

    private static (ResourceTable Table, MappedRegion Shm) Parse(byte[] bytes)
    {
        var shm = MappedRegion.CreateMemfd("rsc", 0x1000);
        shm.Io.Write(0, bytes);
        return (ResourceTable.Parse(shm.Io.Slice(0, (ulong)bytes.Length)), shm);
    }

    [Test]
    public void TheBuilderEmitsTheExtensionRightAfterAVdevWhoseFeaturesNeedIt()
    {
        byte[] t = new ResourceTableBuilder().Vdev(36, 5, Version1 | 0xF, OneRing, [0x01, 0x00]).Build();
        Assert.That(t, Is.EqualTo(CanWithVersion1));
    }

    [Test]
    public void AVdevWhoseFeaturesFitIn32BitsGetsNoExtension()
    {
        byte[] t = new ResourceTableBuilder().Vdev(36, 5, 0xF, OneRing, [0x01, 0x00]).Build();
        byte[] expected = [0x01, 0, 0, 0, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0, .. CanWithVersion1[24..76]];
        Assert.That(t, Is.EqualTo(expected), "ver 1, num 1, offset 20, then the same vdev bytes");
    }

    [Test]
    public void DeviceFeaturesCombineBothWordsAndTheEntryIsNotSkipped()
    {
        var (table, shm) = Parse(CanWithVersion1);
        using (shm)
        {
            VdevResource can = table.Vdevs.Single();
            Assert.Multiple(() =>
            {
                Assert.That(can.DeviceFeatures, Is.EqualTo(Version1 | 0xF));
                Assert.That(can.FeaturesHighIndex, Is.EqualTo(1));
                Assert.That(table.Skipped, Is.Empty, "our own vendor entry is understood, not skipped");
            });
        }
    }

    [Test]
    public void DriverFeaturesAreWrittenToBothWords()
    {
        var (table, shm) = Parse(CanWithVersion1);
        using (shm)
        {
            VdevResource can = table.Vdevs.Single();
            can.DriverFeatures = Version1 | 0x3;
            Assert.Multiple(() =>
            {
                Assert.That(shm.Io.ReadU32(24 + 16), Is.EqualTo(0x3u), "gfeatures at vdev + 16");
                Assert.That(shm.Io.ReadU32(76 + 20), Is.EqualTo(0x1u), "gfeatures_hi at extension + 20");
                Assert.That(can.DriverFeatures, Is.EqualTo(Version1 | 0x3));
            });
        }
    }

    [Test]
    public void WithoutTheExtensionHighDriverBitsAreDroppedAndReadBackAsZero()
    {
        byte[] bytes = new ResourceTableBuilder().Vdev(36, 5, 0xF, OneRing, [0x01, 0x00]).Build();
        var (table, shm) = Parse(bytes);
        using (shm)
        {
            VdevResource can = table.Vdevs.Single();
            can.DriverFeatures = Version1 | 0x3;
            byte[] after = new byte[bytes.Length];
            shm.Io.Read(0, after);
            byte[] expected = (byte[])bytes.Clone();
            expected[20 + 16] = 0x03;
            Assert.Multiple(() =>
            {
                Assert.That(can.DriverFeatures, Is.EqualTo(0x3UL), "what reads back is what the remote can see");
                Assert.That(after, Is.EqualTo(expected), "only gfeatures changed");
                Assert.That(shm.Io.ReadU32((ulong)bytes.Length), Is.Zero, "nothing written past the table");
            });
        }
    }

    // A driver that wants VERSION_1, negotiated through VirtioDriverLifecycle; the bind step stops the probe once the
    // features are known (the queues are not what this test is about).
    private sealed class Version1Driver : IVirtioDriver
    {
        public uint DeviceId => 36;
        public ulong SupportedFeatures => Version1 | 0x1;
        public void Probe(VirtioDriverContext context) { }
    }

    private sealed class Negotiated(ulong features) : Exception { public ulong Features { get; } = features; }

    [TestCase(true, Version1 | 0x1)]
    [TestCase(false, 0x1UL)]
    public void NegotiationOffersAndAcceptsBit32OnlyWithTheExtension(bool extension, ulong expected)
    {
        byte[] bytes = new ResourceTableBuilder().Vdev(36, 5, (extension ? Version1 : 0) | 0xF, OneRing, [0x01, 0x00]).Build();
        var (table, shm) = Parse(bytes);
        using (shm)
        {
            VdevResource can = table.Vdevs.Single();
            var e = Assert.Throws<Negotiated>(() => VirtioDriverLifecycle.Probe(new Version1Driver(), can, f => throw new Negotiated(f)))!;
            Assert.Multiple(() =>
            {
                Assert.That(e.Features, Is.EqualTo(expected));
                Assert.That(can.DriverFeatures, Is.EqualTo(expected), "the table holds what was negotiated, all of it");
                Assert.That(can.Status & VirtioStatus.FeaturesOk, Is.EqualTo(VirtioStatus.FeaturesOk));
            });
        }
    }

    [Test]
    public void OtherVendorTypesAreStillSkipped()
    {
        byte[] t = (byte[])CanWithVersion1.Clone();
        t[76] = 0xAD; // 0x1AD: a vendor type AmpCan does not know
        var (table, shm) = Parse(t);
        using (shm)
        {
            Assert.That(table.Skipped.Single(), Is.EqualTo(new SkippedResource(1, 0x1AD, 76)));
            Assert.That(table.Vdevs.Single().DeviceFeatures, Is.EqualTo(0xFUL), "without our entry the vdev has 32 bits");
        }
    }

    [TestCase(84, 7u, "names entry 7, which is not a vdev")]
    [TestCase(84, 1u, "names entry 1, which is not a vdev")]
    [TestCase(80, 28u, "len is 28, not 24")]
    [TestCase(88, 1u, "reserved word at +0xc is 0x1")]
    [TestCase(0, 0u, "needs 0x18 bytes; the table ends at 0x5a")]
    public void AMalformedExtensionIsRefusedWithTheEntryNamed(int at, uint value, string expected)
    {
        byte[] t = (byte[])CanWithVersion1.Clone();
        if (at == 0) t = t[..90]; // a table that ends 14 bytes into the 24-byte entry
        else BitConverter.GetBytes(value).CopyTo(t, at);
        using var shm = MappedRegion.CreateMemfd("rsc", 0x1000);
        shm.Io.Write(0, t);
        var e = Assert.Throws<ResourceTableException>(() => ResourceTable.Parse(shm.Io.Slice(0, (ulong)t.Length)))!;
        Assert.That(e.Message, Does.Contain("resource entry 1 (vdev feature bits 32-63)").And.Contain(expected));
    }

    [Test]
    public void TwoExtensionsForOneVdevAreRefused()
    {
        byte[] t = new ResourceTableBuilder().Vdev(36, 5, Version1, OneRing).FeaturesHigh(0, 1).Build();
        using var shm = MappedRegion.CreateMemfd("rsc", 0x1000);
        shm.Io.Write(0, t);
        var e = Assert.Throws<ResourceTableException>(() => ResourceTable.Parse(shm.Io.Slice(0, (ulong)t.Length)))!;
        Assert.That(e.Message, Does.Contain("resource entry 2 (vdev feature bits 32-63)").And.Contain("already has its high feature word in entry 1"));
    }

    [Test]
    public void TheExtensionMayComeBeforeItsVdev()
    {
        byte[] t = new ResourceTableBuilder().FeaturesHigh(1, 1).Vdev(36, 5, 0xF, OneRing).Build();
        var (table, shm) = Parse(t);
        using (shm) Assert.That(table.Vdevs.Single().DeviceFeatures, Is.EqualTo(Version1 | 0xF));
    }
}

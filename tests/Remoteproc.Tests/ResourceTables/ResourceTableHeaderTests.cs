using AmpCan.Remoteproc;
using AmpCan.SharedMem;

namespace AmpCan.Tests.Remoteproc.ResourceTables;

/// <summary>The table header as Linux's find_table and OpenAMP's handle_rsc_table check it.</summary>
public class ResourceTableHeaderTests
{
    // An empty table (ver 1, num 0) with reserved[0] at +8 and reserved[1] at +12, the way NXP's empty_rsc_table.c writes it.
    private static readonly byte[] Empty =
    [
        0x01, 0x00, 0x00, 0x00,   // ver 1
        0x00, 0x00, 0x00, 0x00,   // num 0
        0x00, 0x00, 0x00, 0x00,   // reserved[0]
        0x00, 0x00, 0x00, 0x00,   // reserved[1]
    ];

    private static ResourceTable Parse(byte[] bytes)
    {
        using var shm = MappedRegion.CreateMemfd("rsc", 0x1000);
        shm.Io.Write(0, bytes);
        return ResourceTable.Parse(shm.Io.Slice(0, (ulong)bytes.Length));
    }

    [Test]
    public void AnEmptyTableWithZeroReservedWordsParses()
    {
        ResourceTable t = Parse(Empty);
        Assert.That(t.Vdevs.Count + t.Carveouts.Count + t.Traces.Count + t.Skipped.Count, Is.Zero);
    }

    [TestCase(8, "reserved[0] (+0x8) is 0x1 and reserved[1] (+0xc) is 0x0")]
    [TestCase(12, "reserved[0] (+0x8) is 0x0 and reserved[1] (+0xc) is 0x1")]
    public void ANonZeroReservedWordIsRefusedAndNamed(int at, string expected)
    {
        byte[] t = (byte[])Empty.Clone();
        t[at] = 0x01;
        var e = Assert.Throws<ResourceTableException>(() => Parse(t))!;
        Assert.That(e.Message, Does.StartWith("resource table header:").And.Contain(expected));
    }

    [Test]
    public void TheHighestByteOfAReservedWordCountsToo()
    {
        byte[] t = (byte[])Empty.Clone();
        t[15] = 0x80;
        var e = Assert.Throws<ResourceTableException>(() => Parse(t))!;
        Assert.That(e.Message, Does.Contain("reserved[1] (+0xc) is 0x80000000"));
    }
}

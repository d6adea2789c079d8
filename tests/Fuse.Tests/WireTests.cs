using AmpCan.Fuse.Wire;

namespace AmpCan.Tests.Fuse;

/// <summary>
/// Every structure against bytes written out by hand from include/uapi/linux/fuse.h's layout (little-endian,
/// offsets as in the header), not produced by the code under test.
/// </summary>
public class WireTests
{
    private delegate void SpanWriter(Span<byte> b);

    private static byte[] Written(int size, SpanWriter write)
    {
        var b = new byte[size];
        Array.Fill(b, (byte)0xEE); // every byte the writer leaves alone shows up as EE
        write(b);
        return b;
    }

    [Test]
    public void InHeader()
    {
        byte[] b =
        [
            0x58, 0x00, 0x00, 0x00, // len 88
            0x10, 0x00, 0x00, 0x00, // opcode 16 (WRITE)
            0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, // unique
            0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // nodeid 2
            0xE8, 0x03, 0x00, 0x00, // uid 1000
            0x64, 0x00, 0x00, 0x00, // gid 100
            0x34, 0x12, 0x00, 0x00, // pid 0x1234
            0x03, 0x00, // total_extlen 3
            0x00, 0x00, // padding
        ];
        var h = new FuseInHeader(88, 16, 0x0102030405060708, 2, 1000, 100, 0x1234, 3);
        Assert.That(FuseInHeader.Read(b), Is.EqualTo(h));
        Assert.That(Written(FuseInHeader.Size, h.Write), Is.EqualTo(b));
    }

    [Test]
    public void OutHeader()
    {
        byte[] b = [0x18, 0x00, 0x00, 0x00, 0xF5, 0xFF, 0xFF, 0xFF, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01]; // len 24, -11, unique
        var h = new FuseOutHeader(24, -11, 0x0102030405060708);
        Assert.That(FuseOutHeader.Read(b), Is.EqualTo(h));
        Assert.That(Written(FuseOutHeader.Size, h.Write), Is.EqualTo(b));
    }

    [Test]
    public void InitInBothSizes()
    {
        byte[] old = [0x07, 0, 0, 0, 0x1F, 0, 0, 0, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x40, 0x00]; // 7.31, 128 KiB, MAX_PAGES
        Assert.That(FuseInitIn.Read(old), Is.EqualTo(new FuseInitIn(7, 31, 0x20000, 1u << 22, 0)));
        var full = new byte[64];
        old.CopyTo(full, 0);
        full[4] = 0x2D; // minor 45
        full[16] = 0x05; // flags2
        Assert.That(FuseInitIn.Read(full), Is.EqualTo(new FuseInitIn(7, 45, 0x20000, 1u << 22, 5)));
        Assert.Throws<ArgumentException>(() => FuseInitIn.Read(old.AsSpan(0, 12)));
    }

    [Test]
    public void InitOut()
    {
        var b = new byte[64];
        byte[] head =
        [
            0x07, 0, 0, 0, 0x26, 0, 0, 0, // 7.38
            0x00, 0x00, 0x02, 0x00, // max_readahead 128 KiB
            0x00, 0x00, 0x40, 0x00, // flags MAX_PAGES
            0x10, 0x00, 0x0C, 0x00, // max_background 16, congestion_threshold 12
            0x00, 0x00, 0x10, 0x00, // max_write 1 MiB
            0x01, 0x00, 0x00, 0x00, // time_gran 1
            0x00, 0x01, 0x00, 0x00, // max_pages 256, map_alignment 0
            0x02, 0x00, 0x00, 0x00, // flags2 2
        ];
        head.CopyTo(b, 0);
        var o = new FuseInitOut(7, 38, 0x20000, 1u << 22, 16, 12, 1 << 20, 1, 256, 2);
        Assert.That(Written(FuseInitOut.Size, o.Write), Is.EqualTo(b));
        Assert.That(FuseInitOut.Read(b), Is.EqualTo(o));
    }

    [Test]
    public void CuseInit()
    {
        byte[] input = [0x07, 0, 0, 0, 0x25, 0, 0, 0, 0xAA, 0xAA, 0xAA, 0xAA, 0x01, 0, 0, 0]; // 7.37, unused, UNRESTRICTED
        Assert.That(CuseInitIn.Read(input), Is.EqualTo(new CuseInitIn(7, 37, 1)));
        var b = new byte[72];
        byte[] head =
        [
            0x07, 0, 0, 0, 0x25, 0, 0, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, // major, minor, unused, flags
            0x00, 0x00, 0x01, 0x00, 0x00, 0x10, 0x00, 0x00, // max_read 64 KiB, max_write 4096
            0xEA, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, // dev_major 234, dev_minor 3
        ];
        head.CopyTo(b, 0);
        Assert.That(Written(CuseInitOut.Size, new CuseInitOut(7, 37, 1, 0x10000, 4096, 234, 3).Write), Is.EqualTo(b));
    }

    [Test]
    public void Open()
    {
        byte[] input = [0x02, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]; // O_RDWR|O_NONBLOCK, open_flags 0
        Assert.That(FuseOpenIn.Read(input), Is.EqualTo(new FuseOpenIn(0x802, 0)));
        byte[] output = [0x2A, 0, 0, 0, 0, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0]; // fh 42, DIRECT_IO|NONSEEKABLE|STREAM
        Assert.That(Written(FuseOpenOut.Size, new FuseOpenOut(42, 0x15).Write), Is.EqualTo(output));
        Assert.That(FuseOpenFlags.DirectIo | FuseOpenFlags.NonSeekable | FuseOpenFlags.Stream, Is.EqualTo(0x15u));
    }

    [Test]
    public void ReadIn()
    {
        byte[] b =
        [
            0x2A, 0, 0, 0, 0, 0, 0, 0, // fh 42
            0x00, 0x10, 0, 0, 0, 0, 0, 0, // offset 4096
            0xF0, 0x01, 0x00, 0x00, // size 496
            0x02, 0x00, 0x00, 0x00, // read_flags LOCKOWNER
            0x99, 0x99, 0x99, 0x99, 0x99, 0x99, 0x99, 0x99, // lock_owner
            0x02, 0x08, 0x00, 0x00, // flags O_RDWR|O_NONBLOCK
            0x00, 0x00, 0x00, 0x00, // padding
        ];
        Assert.That(FuseReadIn.Read(b), Is.EqualTo(new FuseReadIn(42, 4096, 496, 2, 0x802)));
    }

    [Test]
    public void Write()
    {
        byte[] b =
        [
            0x07, 0, 0, 0, 0, 0, 0, 0, // fh 7
            0, 0, 0, 0, 0, 0, 0, 0, // offset 0
            0x05, 0x00, 0x00, 0x00, // size 5
            0x04, 0x00, 0x00, 0x00, // write_flags KILL_PRIV
            0x99, 0x99, 0x99, 0x99, 0x99, 0x99, 0x99, 0x99, // lock_owner
            0x02, 0x00, 0x00, 0x00, // flags O_RDWR
            0x00, 0x00, 0x00, 0x00, // padding
        ];
        Assert.That(FuseWriteIn.Read(b), Is.EqualTo(new FuseWriteIn(7, 0, 5, 4, 2)));
        Assert.That(Written(FuseWriteOut.WireSize, new FuseWriteOut(5).Write), Is.EqualTo(new byte[] { 5, 0, 0, 0, 0, 0, 0, 0 }));
    }

    [Test]
    public void ReleaseFlushInterrupt()
    {
        byte[] release = [0x07, 0, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, 0x01, 0, 0, 0, 0x11, 0x22, 0, 0, 0, 0, 0, 0];
        Assert.That(FuseReleaseIn.Read(release), Is.EqualTo(new FuseReleaseIn(7, 2, 1, 0x2211)));
        byte[] flush = [0x07, 0, 0, 0, 0, 0, 0, 0, 0xAA, 0xAA, 0xAA, 0xAA, 0xBB, 0xBB, 0xBB, 0xBB, 0x11, 0x22, 0, 0, 0, 0, 0, 0];
        Assert.That(FuseFlushIn.Read(flush), Is.EqualTo(new FuseFlushIn(7, 0x2211)));
        byte[] interrupt = [0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01];
        Assert.That(FuseInterruptIn.Read(interrupt), Is.EqualTo(new FuseInterruptIn(0x0102030405060708)));
    }

    [Test]
    public void Ioctl()
    {
        byte[] input =
        [
            0x07, 0, 0, 0, 0, 0, 0, 0, // fh 7
            0x02, 0x00, 0x00, 0x00, // flags UNRESTRICTED
            0x01, 0xB5, 0x28, 0x40, // cmd 0x4028B501
            0x00, 0x10, 0x32, 0x54, 0x76, 0x7F, 0x00, 0x00, // arg 0x7F7654321000
            0x28, 0x00, 0x00, 0x00, // in_size 40
            0x00, 0x00, 0x00, 0x00, // out_size 0
        ];
        Assert.That(FuseIoctlIn.Read(input), Is.EqualTo(new FuseIoctlIn(7, 2, 0x4028B501, 0x7F7654321000, 40, 0)));
        byte[] output = [0xE7, 0xFF, 0xFF, 0xFF, 0x04, 0, 0, 0, 0x01, 0, 0, 0, 0x02, 0, 0, 0]; // -25, RETRY, 1 in, 2 out
        Assert.That(Written(FuseIoctlOut.Size, new FuseIoctlOut(-25, 4, 1, 2).Write), Is.EqualTo(output));
        byte[] iov = [0x00, 0x10, 0x32, 0x54, 0x76, 0x7F, 0x00, 0x00, 0x28, 0, 0, 0, 0, 0, 0, 0];
        Assert.That(Written(FuseIoctlIovec.Size, new FuseIoctlIovec(0x7F7654321000, 40).Write), Is.EqualTo(iov));
    }

    [Test]
    public void Poll()
    {
        byte[] input = [0x07, 0, 0, 0, 0, 0, 0, 0, 0x03, 0, 0, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0x45, 0, 0, 0]; // fh 7, kh 3, SCHEDULE_NOTIFY, POLLIN|POLLOUT|POLLRDNORM
        Assert.That(FusePollIn.Read(input), Is.EqualTo(new FusePollIn(7, 3, 1, 0x45)));
        Assert.That(Written(FusePollOut.Size, new FusePollOut(0x5).Write), Is.EqualTo(new byte[] { 5, 0, 0, 0, 0, 0, 0, 0 }));
        Assert.That(Written(FuseNotifyPollWakeupOut.Size, new FuseNotifyPollWakeupOut(3).Write), Is.EqualTo(new byte[] { 3, 0, 0, 0, 0, 0, 0, 0 }));
    }

    [Test]
    public void AttrOutAndEntryOut()
    {
        var attr = new FuseAttr(2, 0x10, 0x81B6, 1, 1000, 100, 0x60000000); // regular file 0666
        byte[] attrBytes =
        [
            0x02, 0, 0, 0, 0, 0, 0, 0, // ino
            0x10, 0, 0, 0, 0, 0, 0, 0, // size
            0, 0, 0, 0, 0, 0, 0, 0, // blocks
            0x00, 0x00, 0x00, 0x60, 0, 0, 0, 0, // atime
            0x00, 0x00, 0x00, 0x60, 0, 0, 0, 0, // mtime
            0x00, 0x00, 0x00, 0x60, 0, 0, 0, 0, // ctime
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // atimensec, mtimensec, ctimensec
            0xB6, 0x81, 0x00, 0x00, // mode
            0x01, 0x00, 0x00, 0x00, // nlink
            0xE8, 0x03, 0x00, 0x00, // uid
            0x64, 0x00, 0x00, 0x00, // gid
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // rdev, blksize, flags
        ];
        byte[] attrOut = [0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, .. attrBytes]; // attr_valid 5
        Assert.That(Written(FuseAttrOut.Size, new FuseAttrOut(5, attr).Write), Is.EqualTo(attrOut));
        byte[] entryOut =
        [
            0x02, 0, 0, 0, 0, 0, 0, 0, // nodeid
            0x01, 0, 0, 0, 0, 0, 0, 0, // generation
            0x03, 0, 0, 0, 0, 0, 0, 0, // entry_valid
            0x04, 0, 0, 0, 0, 0, 0, 0, // attr_valid
            0, 0, 0, 0, 0, 0, 0, 0, // the nsec fields
            .. attrBytes,
        ];
        Assert.That(Written(FuseEntryOut.Size, new FuseEntryOut(2, 1, 3, 4, attr).Write), Is.EqualTo(entryOut));
        byte[] getattr = [0x01, 0, 0, 0, 0xAA, 0xAA, 0xAA, 0xAA, 0x07, 0, 0, 0, 0, 0, 0, 0];
        Assert.That(FuseGetAttrIn.Read(getattr), Is.EqualTo(new FuseGetAttrIn(1, 7)));
    }

    [Test]
    public void ADirectoryEntryIsFuseDirentPaddedToEightBytes()
    {
        byte[] b = new byte[40];
        b.AsSpan().Fill(0xEE);
        int n = FuseDirectoryEntry.Write(b, inode: 5, nextOffset: 3, FuseDirectoryEntry.RegularFile, "rpmsg0");
        byte[] expected =
        [
            0x05, 0, 0, 0, 0, 0, 0, 0, // ino
            0x03, 0, 0, 0, 0, 0, 0, 0, // off: where the next READDIR resumes
            0x06, 0, 0, 0, // namelen
            0x08, 0, 0, 0, // type DT_REG
            (byte)'r', (byte)'p', (byte)'m', (byte)'s', (byte)'g', (byte)'0', 0, 0, // name, padded to 8
        ];
        Assert.That(n, Is.EqualTo(32));
        Assert.That(b[..32], Is.EqualTo(expected));
        Assert.That(b[32], Is.EqualTo(0xEE), "nothing written past the entry");
        Assert.That(FuseDirectoryEntry.Write(b.AsSpan(0, 31), 5, 3, FuseDirectoryEntry.RegularFile, "rpmsg0"), Is.Zero, "an entry that does not fit is left out");
    }
}

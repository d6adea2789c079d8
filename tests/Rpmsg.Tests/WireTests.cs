using AmpCan.Rpmsg.Wire;

namespace AmpCan.Tests.Rpmsg;

public class WireTests
{
    [Test]
    public void HeaderBytes()
    {
        byte[] b = new byte[16];
        new RpmsgHeader(0x400, 0x35, 0, 0x28, 0).Write(b);
        Assert.That(b, Is.EqualTo(new byte[] { 0x00, 0x04, 0, 0, 0x35, 0, 0, 0, 0, 0, 0, 0, 0x28, 0x00, 0, 0 }));
        byte[] raw = [0x78, 0x56, 0x34, 0x12, 0xF0, 0xDE, 0xBC, 0x9A, 0x11, 0x22, 0x33, 0x44, 0xF0, 0x01, 0x02, 0x80];
        Assert.That(RpmsgHeader.Read(raw), Is.EqualTo(new RpmsgHeader(0x12345678, 0x9ABCDEF0, 0x44332211, 0x01F0, 0x8002)));
    }

    [Test]
    public void NameServiceMessageBytes()
    {
        byte[] b = new byte[40];
        new NameServiceMessage("rpmsg-raw", 0x401, NameServiceFlags.Destroy).Write(b);
        byte[] expected = new byte[40];
        "rpmsg-raw"u8.CopyTo(expected);
        expected[32] = 0x01; expected[33] = 0x04; // addr 0x401
        expected[36] = 0x01;                      // RPMSG_NS_DESTROY
        Assert.That(b, Is.EqualTo(expected));
        Assert.That(NameServiceMessage.TryRead(b, out NameServiceMessage m), Is.EqualTo(NameServiceFault.None));
        Assert.That(m, Is.EqualTo(new NameServiceMessage("rpmsg-raw", 0x401, NameServiceFlags.Destroy)));
    }

    [Test]
    public void NameServiceCreateFromLiteralBytes()
    {
        // struct rpmsg_ns_msg { char name[32]; __rpmsg32 addr; __rpmsg32 flags; } for "rpmsg-tty" at 0x402, RPMSG_NS_CREATE.
        byte[] wire =
        [
            0x72, 0x70, 0x6D, 0x73, 0x67, 0x2D, 0x74, 0x74, 0x79, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0x02, 0x04, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00,
        ];
        Assert.That(NameServiceMessage.TryRead(wire, out NameServiceMessage m), Is.EqualTo(NameServiceFault.None));
        Assert.That(m, Is.EqualTo(new NameServiceMessage("rpmsg-tty", 0x402, NameServiceFlags.Create)));
        byte[] back = new byte[NameServiceMessage.Size];
        m.Write(back);
        Assert.That(back, Is.EqualTo(wire));
    }

    [Test]
    public void MalformedNameServiceMessagesAreNamed()
    {
        byte[] ok = new byte[40];
        new NameServiceMessage("x", 0x400, NameServiceFlags.Create).Write(ok);
        byte[] unterminated = (byte[])ok.Clone();
        unterminated.AsSpan(0, 32).Fill((byte)'a');
        byte[] empty = (byte[])ok.Clone();
        empty[0] = 0;
        byte[] any = (byte[])ok.Clone();
        any.AsSpan(32, 4).Fill(0xFF);
        Assert.Multiple(() =>
        {
            Assert.That(NameServiceMessage.TryRead(ok.AsSpan(0, 39), out _), Is.EqualTo(NameServiceFault.WrongLength));
            Assert.That(NameServiceMessage.TryRead(new byte[41], out _), Is.EqualTo(NameServiceFault.WrongLength));
            // rpmsg_ns.c forces a terminator into the last byte: a full 32-byte name is cut to 31.
            Assert.That(NameServiceMessage.TryRead(unterminated, out NameServiceMessage cut), Is.EqualTo(NameServiceFault.None));
            Assert.That(cut.Name, Is.EqualTo(new string('a', 31)));
            Assert.That(NameServiceMessage.TryRead(empty, out _), Is.EqualTo(NameServiceFault.EmptyName));
            Assert.That(NameServiceMessage.TryRead(any, out _), Is.EqualTo(NameServiceFault.InvalidAddress));
            Assert.Throws<ArgumentException>(() => new NameServiceMessage(new string('n', 32), 1, 0).Write(new byte[40]));
        });
    }
}

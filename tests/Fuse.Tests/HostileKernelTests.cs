using System.Buffers.Binary;
using AmpCan.Fuse;
using AmpCan.SharedMem;
using Microsoft.Extensions.Logging;
using static AmpCan.Tests.Fuse.LibcForTests;

namespace AmpCan.Tests.Fuse;

/// <summary>
/// The server against a kernel stand-in on a SOCK_SEQPACKET socket (message boundaries kept, as on /dev/fuse), which
/// sends what the real kernel never would: wrong lengths, requests before INIT, an old protocol.
/// </summary>
public class HostileKernelTests
{
    private const uint Init = 26, GetAttr = 3, ReadOp = 15, Write = 16, Ioctl = 39, Statfs = 17, Interrupt = 36;
    private const int EINTR = 4, EIO = 5, EINVAL = 22, ENOSYS = 38, EPROTO = 71;
    private CapturingLoggerFactory _logs = null!;
    private FuseServer? _server;
    private KernelStandIn? _kernel;

    private void Start(IFuseFileHandler handler)
    {
        _kernel = new KernelStandIn();
        _logs = new CapturingLoggerFactory();
        _server = FuseServer.Serve(_kernel.ServerEnd, "stand-in", handler, _logs.CreateLogger("fuse"));
    }

    [TearDown]
    public void Stop()
    {
        _kernel?.Dispose(); // end of file: the loop ends
        _kernel = null;
        _server?.Dispose();
        _server = null;
        _logs?.Dispose();
    }

    private void Send(uint opcode, ulong unique, byte[] body, int? claimedLength = null) =>
        _kernel!.Send(opcode, unique, body, claimedLength: claimedLength);

    private (int Error, ulong Unique, byte[] Body) Receive() => _kernel!.Receive();

    private static byte[] InitBody(uint minor, uint flags, int size)
    {
        var b = new byte[size];
        BinaryPrimitives.WriteUInt32LittleEndian(b, 7);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), minor);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(8), 0x20000);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(12), flags);
        return b;
    }

    private void Initialize()
    {
        Send(Init, 1, InitBody(45, 0xFFFFFFFF, 64));
        Assert.That(Receive().Error, Is.Zero);
    }

    [Test]
    public void InitAnswersTheAgreedVersionAndOnlyTheFlagsItUses()
    {
        Start(new EchoFileSystem());
        Send(Init, 7, InitBody(45, 0xFFFFFFFF, 64));
        var (error, unique, body) = Receive();
        Assert.That((error, unique, body.Length), Is.EqualTo((0, 7UL, 64)));
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(body), Is.EqualTo(7));
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(body.AsSpan(4)), Is.EqualTo(38), "min(kernel's 45, our 38)");
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(body.AsSpan(12)), Is.EqualTo((1u << 22) | (1u << 5)), "MAX_PAGES | BIG_WRITES");
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(body.AsSpan(20)), Is.EqualTo(1u << 20), "max_write");
        Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(body.AsSpan(28)), Is.EqualTo(256), "max_pages");
    }

    [Test]
    public void AnOlderKernelKeepsItsOwnMinorAndShortInit()
    {
        Start(new EchoFileSystem());
        Send(Init, 2, InitBody(31, 1u << 22, 16)); // before 7.36 fuse_init_in had 16 bytes
        var (error, _, body) = Receive();
        Assert.That(error, Is.Zero);
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(body.AsSpan(4)), Is.EqualTo(31));
        Assert.That(_server!.NegotiatedMinor, Is.EqualTo(31));
    }

    [Test]
    public void AKernelBefore731IsRefused()
    {
        Start(new EchoFileSystem());
        Send(Init, 3, InitBody(30, 0, 16));
        ExpectError(-EPROTO, 3);
        Assert.That(_logs.AtLeast(LogLevel.Error), Has.Some.Contains("7.31 or later"));
    }

    [Test]
    public void MalformedRequestsCostOnlyThemselves()
    {
        Start(new EchoFileSystem());
        Send(GetAttr, 10, new byte[16]); // before INIT
        Assert.That(Receive().Error, Is.EqualTo(-EINVAL));
        Initialize();

        Send(GetAttr, 11, new byte[16], claimedLength: 200); // header claims more than arrived
        ExpectError(-EINVAL, 11UL);

        var write = new byte[40 + 5];
        BinaryPrimitives.WriteUInt32LittleEndian(write.AsSpan(16), 10); // size 10, 5 data bytes follow
        Send(Write, 12, write);
        ExpectError(-EINVAL, 12UL);

        var ioctl = new byte[32 + 8];
        BinaryPrimitives.WriteUInt32LittleEndian(ioctl.AsSpan(24), 40); // in_size 40, 8 bytes follow
        Send(Ioctl, 13, ioctl);
        ExpectError(-EINVAL, 13UL);

        _kernel!.SendRaw(new byte[20]); // shorter than a header: no unique to answer
        Send(Interrupt, 14, new byte[4]); // short INTERRUPT: no reply is owed

        Send(Statfs, 15, []);
        ExpectError(-ENOSYS, 15UL);

        Send(GetAttr, 16, new byte[16]); // and a good request still works
        var (error, unique, body) = Receive();
        Assert.That((error, unique, body.Length), Is.EqualTo((0, 16UL, 104)));
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(body.AsSpan(16 + 60)), Is.EqualTo(0x41ED), "the root's mode");
        Assert.That(_server!.RejectedRequests, Is.EqualTo(6));
        Assert.That(_logs.AtLeast(LogLevel.Error), Is.Empty);
    }

    [Test]
    public void AHandlerThatThrowsCostsItsRequestEio()
    {
        Start(new ThrowingFileSystem());
        Initialize();
        Send(GetAttr, 20, new byte[16]);
        ExpectError(-EIO, 20UL);
        Send(GetAttr, 21, new byte[16]);
        Assert.That(Receive().Unique, Is.EqualTo(21), "the loop goes on");
        Assert.That(_logs.AtLeast(LogLevel.Error), Has.Some.Contains("getattr bug").Or.Some.Contains("InvalidOperationException"));
    }

    [Test]
    public void AnInterruptAnswersTheHeldReadEintr()
    {
        Start(new EchoFileSystem());
        Initialize();
        var read = new byte[40];
        BinaryPrimitives.WriteUInt32LittleEndian(read.AsSpan(16), 16); // size 16, flags 0: blocking
        Send(ReadOp, 30, read); // nothing queued: the handler keeps the reply
        var interrupt = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(interrupt, 30);
        Send(Interrupt, 31, interrupt); // no reply owed to the INTERRUPT itself
        ExpectError(-EINTR, 30);
    }

    private void ExpectError(int error, ulong unique) => _kernel!.ExpectError(error, unique);
}

using System.Buffers.Binary;
using AmpCan.Fuse;
using AmpCan.Fuse.Wire;
using Microsoft.Extensions.Logging;

namespace AmpCan.Tests.Fuse;

/// <summary>
/// The CUSE server against a kernel stand-in: CUSE_INIT's answer and the ioctl retry replies compared byte for byte
/// with vectors written out by hand from fuse.h (struct cuse_init_out, fuse_ioctl_out, fuse_ioctl_iovec), and the
/// retries the kernel would refuse (fs/fuse/ioctl.c) refused before they are written.
/// </summary>
public class CuseStandInTests
{
    private const uint CuseInit = 4096, FuseInit = 26, Lookup = 1, GetAttr = 3, Open = 14, Ioctl = 39;
    private const int EIO = 5, ENOMEM = 12, EINVAL = 22, ENOSYS = 38, EPROTO = 71;
    private KernelStandIn _kernel = null!;
    private CapturingLoggerFactory _logs = null!;
    private EchoCharacterDevice _device = null!;
    private CuseServer? _server;

    private void Start(CuseServerOptions? options = null)
    {
        _kernel = new KernelStandIn();
        _logs = new CapturingLoggerFactory();
        _device = new EchoCharacterDevice();
        _server = CuseServer.Serve(_kernel.ServerEnd, options ?? new CuseServerOptions { DeviceName = "rpmsg/echo0" }, _device, _logs.CreateLogger("cuse"));
    }

    [TearDown]
    public void Stop()
    {
        _kernel?.Dispose();
        _server?.Dispose();
        _server = null;
        _logs?.Dispose();
    }

    private static byte[] CuseInitBody(uint minor, uint flags)
    {
        var b = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(b, 7);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), minor);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(12), flags);
        return b;
    }

    private void Initialize()
    {
        _kernel.Send(CuseInit, 1, CuseInitBody(37, 1), nodeId: 0);
        Assert.That(_kernel.Receive().Error, Is.Zero);
    }

    private static byte[] IoctlBody(uint flags, uint command, ulong argument, byte[]? input = null, uint outSize = 0)
    {
        input ??= [];
        var b = new byte[32 + input.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(b, 1); // fh
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(8), flags);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(12), command);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(16), argument);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(24), (uint)input.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(28), outSize);
        input.CopyTo(b, 32);
        return b;
    }

    [Test]
    public void CuseInitIsAnsweredWithTheDeviceInfo()
    {
        Start(new CuseServerOptions { DeviceName = "rpmsg/echo0", MaxTransferSize = 65536 });
        _kernel.Send(CuseInit, 0x11, CuseInitBody(37, 1), nodeId: 0);
        byte[] expected =
        [
            0x6C, 0x00, 0x00, 0x00, // len 108: 16 + 72 + 20
            0x00, 0x00, 0x00, 0x00, // error 0
            0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique
            0x07, 0x00, 0x00, 0x00, // major 7
            0x25, 0x00, 0x00, 0x00, // minor 37: the kernel's (under our 38)
            0x00, 0x00, 0x00, 0x00, // unused
            0x01, 0x00, 0x00, 0x00, // flags CUSE_UNRESTRICTED_IOCTL
            0x00, 0x00, 0x01, 0x00, // max_read 65536
            0x00, 0x00, 0x01, 0x00, // max_write 65536
            0x00, 0x00, 0x00, 0x00, // dev_major 0: allocate
            0x00, 0x00, 0x00, 0x00, // dev_minor 0
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // spare[10]
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            (byte)'D', (byte)'E', (byte)'V', (byte)'N', (byte)'A', (byte)'M', (byte)'E', (byte)'=', // device info
            (byte)'r', (byte)'p', (byte)'m', (byte)'s', (byte)'g', (byte)'/', (byte)'e', (byte)'c', (byte)'h', (byte)'o', (byte)'0', 0x00,
        ];
        Assert.That(_kernel.ReceiveRaw(), Is.EqualTo(expected));
        Assert.That(_server!.WaitInitialized(TimeSpan.FromSeconds(10)), Is.True);
        Assert.That((_server.NegotiatedMinor, _server.UnrestrictedIoctl), Is.EqualTo((37u, true)));
    }

    [Test]
    public void AGivenNumberAndRestrictedIoctlsAreAsked()
    {
        Start(new CuseServerOptions { DeviceName = "ttyX", DeviceMajor = 240, DeviceMinor = 3, UnrestrictedIoctl = false, MaxTransferSize = 4096 });
        _kernel.Send(CuseInit, 2, CuseInitBody(45, 1), nodeId: 0);
        var (error, _, body) = _kernel.Receive();
        Assert.That(error, Is.Zero);
        Assert.That(body[..32], Is.EqualTo(new byte[]
        {
            7, 0, 0, 0, 38, 0, 0, 0, 0, 0, 0, 0, // 7.38: ours, under the kernel's 45
            0, 0, 0, 0, // no CUSE_UNRESTRICTED_IOCTL though offered
            0x00, 0x10, 0, 0, 0x00, 0x10, 0, 0, // max_read, max_write 4096
            240, 0, 0, 0, 3, 0, 0, 0, // 240:3
        }));
        Assert.That(body[72..], Is.EqualTo("DEVNAME=ttyX\0"u8.ToArray()));
    }

    [Test]
    public void OnlyCuseInitOpensTheChannelAndThereAreNoNodes()
    {
        Start();
        _kernel.Send(FuseInit, 3, new byte[64]); // a FUSE INIT is not how a CUSE channel starts
        _kernel.ExpectError(-EINVAL, 3);
        _kernel.Send(CuseInit, 4, CuseInitBody(30, 1), nodeId: 0); // 7.30 lacks what we need
        _kernel.ExpectError(-EPROTO, 4);
        Assert.That(_logs.AtLeast(LogLevel.Error), Has.Some.Contains("7.31 or later"));
        Initialize();
        _kernel.Send(Lookup, 5, "x\0"u8.ToArray());
        _kernel.ExpectError(-ENOSYS, 5);
        _kernel.Send(GetAttr, 6, new byte[16]);
        _kernel.ExpectError(-ENOSYS, 6);
        _kernel.Send(Open, 7, new byte[8], nodeId: 0); // CUSE opens node 0
        var (error, unique, body) = _kernel.Receive();
        Assert.That((error, unique, body.Length), Is.EqualTo((0, 7UL, 16)));
        Assert.That(_device.Opens, Is.EqualTo(1));
    }

    [Test]
    public void AnUnrestrictedIoctlIsRetriedWithTheCallersBuffersThenAnswered()
    {
        Start();
        Initialize();
        const ulong arg = 0x00007FFF12345000;
        _kernel.Send(Ioctl, 8, IoctlBody(FuseIoctlFlags.Unrestricted, EchoCharacterDevice.SumIoctl, arg), nodeId: 0);
        byte[] expected =
        [
            0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0, 0, 0, 0, 0, 0, 0, // len 64, error 0, unique 8
            0x00, 0x00, 0x00, 0x00, // result 0
            0x04, 0x00, 0x00, 0x00, // flags FUSE_IOCTL_RETRY
            0x01, 0x00, 0x00, 0x00, // in_iovs 1
            0x01, 0x00, 0x00, 0x00, // out_iovs 1
            0x00, 0x50, 0x34, 0x12, 0xFF, 0x7F, 0x00, 0x00, 0x28, 0, 0, 0, 0, 0, 0, 0, // in: arg, 40 bytes
            0x24, 0x50, 0x34, 0x12, 0xFF, 0x7F, 0x00, 0x00, 0x04, 0, 0, 0, 0, 0, 0, 0, // out: arg + 36, 4 bytes
        ];
        Assert.That(_kernel.ReceiveRaw(), Is.EqualTo(expected));

        byte[] input = [.. Enumerable.Range(1, 40).Select(i => (byte)i)]; // the kernel resends with the 40 bytes and out_size 4
        _kernel.Send(Ioctl, 9, IoctlBody(FuseIoctlFlags.Unrestricted, EchoCharacterDevice.SumIoctl, arg, input, outSize: 4), nodeId: 0);
        Assert.That(_kernel.ReceiveRaw(), Is.EqualTo(new byte[]
        {
            0x24, 0, 0, 0, 0, 0, 0, 0, 0x09, 0, 0, 0, 0, 0, 0, 0, // len 36, unique 9
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // result 0, no flags, no iovecs
            0x34, 0x03, 0x00, 0x00, // 1 + 2 + ... + 40 = 820
        }));
    }

    [Test]
    public void AnEncodedCommandIsRetriedWithWhatItsNumberSays()
    {
        Start();
        Initialize();
        _kernel.Send(Ioctl, 10, IoctlBody(FuseIoctlFlags.Unrestricted, EchoCharacterDevice.CreateEndpointIoctl, 0x5000), nodeId: 0);
        var (error, _, body) = _kernel.Receive();
        Assert.That(error, Is.Zero);
        Assert.That(body, Is.EqualTo(new byte[]
        {
            0, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, // retry, one in iovec, no out: _IOW
            0x00, 0x50, 0, 0, 0, 0, 0, 0, 40, 0, 0, 0, 0, 0, 0, 0,
        }));
        byte[] info = new byte[40];
        "rpmsg-raw"u8.CopyTo(info);
        _kernel.Send(Ioctl, 11, IoctlBody(FuseIoctlFlags.Unrestricted, EchoCharacterDevice.CreateEndpointIoctl, 0x5000, info), nodeId: 0);
        Assert.That(_kernel.Receive().Body, Is.EqualTo(new byte[16]), "answered, no more retry");
        Assert.That(_device.Endpoints.Single(), Is.EqualTo(info));
    }

    [TestCase(256u, 0u, 0, TestName = "256 in iovecs: taken")]
    [TestCase(128u, 128u, 0, TestName = "128 in and 128 out: taken")]
    [TestCase(257u, 0u, ENOMEM, TestName = "257 in iovecs: ENOMEM")]
    [TestCase(200u, 57u, ENOMEM, TestName = "200 in and 57 out: ENOMEM")]
    [TestCase(0u, 0xFFFFu, ENOMEM, TestName = "65535 out iovecs: ENOMEM")]
    public void RetryIovecCountsAreCheckedAgainstFuseIoctlMaxIov(uint ins, uint outs, int errno)
    {
        Start();
        Initialize();
        _kernel.Send(Ioctl, 12, IoctlBody(FuseIoctlFlags.Unrestricted, EchoCharacterDevice.ManyIovecsIoctl, (outs << 16) | ins), nodeId: 0);
        var (error, unique, body) = _kernel.Receive();
        if (errno != 0)
        {
            Assert.That((error, unique, body.Length), Is.EqualTo((-errno, 12UL, 0)));
            Assert.That(_logs.AtLeast(LogLevel.Warning), Has.Some.Contains("FUSE_IOCTL_MAX_IOV"));
            return;
        }
        Assert.That((error, body.Length), Is.EqualTo((0, 16 + (int)(ins + outs) * 16)));
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(body.AsSpan(8)), Is.EqualTo(ins));
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(body.AsSpan(12)), Is.EqualTo(outs));
        Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(body.AsSpan(16 + 16 * ((int)(ins + outs) - 1))), Is.EqualTo(EchoCharacterDevice.ManyIovecsBase + ins + outs - 1));
    }

    [TestCase(131072ul, 0, TestName = "128 KiB in: taken")]
    [TestCase(131073ul, ENOMEM, TestName = "128 KiB + 1 in: ENOMEM")]
    [TestCase(ulong.MaxValue, ENOMEM, TestName = "2^64 - 1 bytes in: ENOMEM")]
    public void RetryLengthsAreCheckedAgainstTheKernelsPages(ulong length, int errno)
    {
        Start();
        Initialize();
        _kernel.Send(Ioctl, 13, IoctlBody(FuseIoctlFlags.Unrestricted, EchoCharacterDevice.LongIovecIoctl, length), nodeId: 0);
        var (error, _, body) = _kernel.Receive();
        Assert.That((error, body.Length), Is.EqualTo(errno == 0 ? (0, 32) : (-errno, 0)));
    }

    [Test]
    public void ARetryTheKernelWouldNotTakeIsAnsweredEio()
    {
        Start();
        Initialize();
        _kernel.Send(Ioctl, 14, IoctlBody(0, EchoCharacterDevice.SumIoctl, 0x5000), nodeId: 0); // restricted: no retry allowed
        _kernel.ExpectError(-EIO, 14);
        _kernel.Send(Ioctl, 15, IoctlBody(FuseIoctlFlags.Unrestricted | FuseIoctlFlags.Compat, EchoCharacterDevice.SumIoctl, 0x1_0000_0000), nodeId: 0);
        _kernel.ExpectError(-EIO, 15); // a 32-bit caller cannot have a buffer above 4 GiB
        _kernel.Send(Ioctl, 16, IoctlBody(FuseIoctlFlags.Unrestricted | FuseIoctlFlags.Compat, EchoCharacterDevice.SumIoctl, 0x5000), nodeId: 0);
        Assert.That(_kernel.Receive().Error, Is.Zero, "and below it the retry goes");
        // A handler asking again for what the resent request carries would loop with the kernel for ever.
        _kernel.Send(Ioctl, 17, IoctlBody(FuseIoctlFlags.Unrestricted, EchoCharacterDevice.LongIovecIoctl, 8, new byte[8]), nodeId: 0);
        _kernel.ExpectError(-EIO, 17);
        _kernel.Send(Ioctl, 18, IoctlBody(FuseIoctlFlags.Unrestricted, EchoCharacterDevice.ManyIovecsIoctl, 0), nodeId: 0);
        _kernel.ExpectError(-EIO, 18); // no iovecs at all: the same request again
        Assert.That(_server!.Replies.FailedWrites, Is.Zero);
    }

    [TestCase("", TestName = "empty name")]
    [TestCase("/dev/x", TestName = "leading slash")]
    [TestCase("a//b", TestName = "empty part")]
    [TestCase("a/../b", TestName = "dot-dot part")]
    [TestCase("a b", TestName = "space")]
    [TestCase("a!b", TestName = "bang (sysfs's slash)")]
    public void ANameCuseWouldMangleIsRefusedNamingIt(string name)
    {
        var e = Assert.Throws<ArgumentException>(() => new CuseServerOptions { DeviceName = name }.Validate());
        Assert.That(e!.Message, Does.Contain($"DeviceName '{name}'"));
    }

    [Test]
    public void NodeSettingsOutOfRangeAreRefusedNamingThem()
    {
        Assert.That(Assert.Throws<ArgumentException>(() => new CuseServerOptions { DeviceName = "x", NodeMode = 0x9FF }.Validate())!.Message, Does.Contain("NodeMode 04777"));
        Assert.That(Assert.Throws<ArgumentException>(() => new CuseServerOptions { DeviceName = "x", MaxTransferSize = 200_000 }.Validate())!.Message, Does.Contain("MaxTransferSize 200000"));
        Assert.That(Assert.Throws<ArgumentException>(() => new CuseServerOptions { DeviceName = "x", NodeOwner = uint.MaxValue }.Validate())!.Message, Does.Contain("NodeOwner"));
    }
}

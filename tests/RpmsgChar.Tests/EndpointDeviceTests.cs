using System.Text;
using AmpCan.Rpmsg;
using AmpCan.RpmsgChar;
using AmpCan.RpmsgChar.Wire;
using AmpCan.Tests.Rpmsg;

namespace AmpCan.Tests.RpmsgChar;

/// <summary>
/// rpmsg_char's endpoint devices over a real host/remote rpmsg pair in shared memory: the remote echoes at 0x400, the
/// devices answer as Linux's rpmsg_char.c does (7.3.4), errno for errno.
/// </summary>
public class EndpointDeviceTests
{
    private const uint EchoAddress = 0x400;
    private RpmsgLink _link = null!;
    private RpmsgCharDevices _devices = null!;
    private RpmsgCtrlDevice _ctrl = null!;
    private RecordingReplies _replies = null!;
    private ulong _token;

    [SetUp]
    public void Start()
    {
        _link = new RpmsgLink();
        _link.Remote.CreateEndpoint("rpmsg-echo", (in RpmsgReceivedMessage m) => m.Endpoint.PostTo(m.Source, m.Payload), address: EchoAddress);
        _devices = new RpmsgCharDevices();
        _ctrl = _devices.Bind(_link.Host);
        _replies = new RecordingReplies();
    }

    [TearDown]
    public void Stop() => _link.Dispose();

    private static byte[] Info(string name, uint src, uint dst)
    {
        var b = new byte[RpmsgEndpointInfo.Size];
        new RpmsgEndpointInfo(name, src, dst).Write(b);
        return b;
    }

    private RpmsgEndpointDevice CreateEndpointDevice(uint dst = EchoAddress)
    {
        var before = _devices.Files.Select(f => f.Name).ToHashSet();
        Assert.That(_ctrl.Ioctl(RpmsgCharIoctl.CreateEndpoint, Info("ampcan-test", RpmsgAddress.Any, dst)), Is.Zero);
        return (RpmsgEndpointDevice)_devices.Files.Single(f => !before.Contains(f.Name));
    }

    private RpmsgCharFile Open(RpmsgEndpointDevice device)
    {
        Assert.That(device.Open(_replies, out RpmsgCharFile? file), Is.Zero);
        return file!;
    }

    private RecordingReplies.Answer Write(RpmsgCharFile file, ReadOnlySpan<byte> data, bool nonBlocking = false)
    {
        ulong t = ++_token;
        file.Write(t, data, nonBlocking);
        return _replies.Wait(t);
    }

    private RecordingReplies.Answer Read(RpmsgCharFile file, int size, bool nonBlocking = false)
    {
        ulong t = ++_token;
        file.Read(t, size, nonBlocking);
        return _replies.Wait(t);
    }

    [Test]
    public void CreateEptMakesRpmsg0WhoseEndpointIsMadeAtOpenAndEchoesEverySizeTheMtuAllows()
    {
        RpmsgEndpointDevice device = CreateEndpointDevice();
        Assert.That(device.Name, Is.EqualTo("rpmsg0"));
        Assert.That(device.LocalAddress, Is.Null, "rpmsg_eptdev_open makes the endpoint, not the ioctl");
        RpmsgCharFile file = Open(device);
        Assert.That(device.LocalAddress, Is.EqualTo(0x400u), "the lowest free address from RPMSG_RESERVED_ADDRESSES (1024)");
        int mtu = _link.Host.Mtu;
        Assert.That(mtu, Is.EqualTo(496));
        for (int size = 1; size <= mtu; size++)
        {
            byte[] message = Enumerable.Range(0, size).Select(i => (byte)(i * 7 + size)).ToArray();
            Assert.That(Write(file, message).Written, Is.EqualTo(size));
            Assert.That(Read(file, 512).Data, Is.EqualTo(message), $"size {size}");
        }
        Assert.That(Write(file, new byte[mtu + 1]).Errno, Is.EqualTo(RpmsgCharErrno.EMSGSIZE));
        file.Release();
        Assert.That(device.LocalAddress, Is.Null, "release destroys the endpoint open made");
        Assert.That(_devices.Find("rpmsg0"), Is.SameAs(device), "the file outlives a close");
    }

    [Test]
    public void ASecondOpenIsBusyAndAShortReadDiscardsTheRestOfTheMessage()
    {
        RpmsgEndpointDevice device = CreateEndpointDevice();
        RpmsgCharFile file = Open(device);
        Assert.That(device.Open(new RecordingReplies(), out _), Is.EqualTo(-RpmsgCharErrno.EBUSY));
        byte[] hundred = Enumerable.Range(0, 100).Select(i => (byte)i).ToArray();
        Write(file, hundred);
        Assert.That(SpinWait.SpinUntil(() => (file.Poll(1, false) & RpmsgCharPollEvents.In) != 0, TimeSpan.FromSeconds(10)), Is.True, "the echo is queued");
        Assert.That(Read(file, 10).Data, Is.EqualTo(hundred[..10]), "a queued message cut to the read's size");
        Assert.That(Read(file, 512, nonBlocking: true).Errno, Is.EqualTo(RpmsgCharErrno.EAGAIN), "the other 90 bytes are gone");
    }

    [Test]
    public void ABlockedReadIsAnsweredByTheNextMessageAndPollReportsWhatIsReady()
    {
        RpmsgEndpointDevice device = CreateEndpointDevice();
        RpmsgCharFile file = Open(device);
        Assert.That(file.Poll(7, scheduleNotify: true), Is.EqualTo(RpmsgCharPollEvents.Out), "writable, nothing to read: EPOLLOUT alone");
        ulong read = ++_token;
        file.Read(read, 2, nonBlocking: false);
        Assert.That(_replies.Answered(read), Is.False, "nothing queued: the read waits");
        Write(file, "ping"u8);
        Assert.That(_replies.Wait(read).Data, Is.EqualTo("pi"u8.ToArray()), "answered from the arriving message, cut to the read's size");
        Assert.That(Read(file, 512, nonBlocking: true).Errno, Is.EqualTo(RpmsgCharErrno.EAGAIN), "the rest was discarded");
        Write(file, "pong"u8);
        Assert.That(_replies.WaitPollWake(), Is.True, "the poller is woken by the message");
        SpinWait.SpinUntil(() => file.Poll(8, false) != RpmsgCharPollEvents.Out, TimeSpan.FromSeconds(10));
        Assert.That(file.Poll(8, false), Is.EqualTo(RpmsgCharPollEvents.In | RpmsgCharPollEvents.RdNorm | RpmsgCharPollEvents.Out));
    }

    [Test]
    public void FlowControlAnswersAsTheVirtioBackEndDoesAndUnknownIoctlsAreInvalid()
    {
        RpmsgCharFile file = Open(CreateEndpointDevice());
        Span<byte> output = stackalloc byte[4];
        output.Fill(0xff);
        Assert.That(file.Ioctl(RpmsgCharIoctl.GetOutgoingFlowControl, 0, output, out int n), Is.Zero);
        Assert.That(n, Is.EqualTo(4));
        Assert.That(output.ToArray(), Is.EqualTo(new byte[4]));
        Assert.That(file.Ioctl(RpmsgCharIoctl.SetIncomingFlowControl, 1, default, out _), Is.EqualTo(-RpmsgCharErrno.EOPNOTSUPP));
        Assert.That(file.Ioctl(RpmsgCharIoctl.SetIncomingFlowControl, 2, default, out _), Is.EqualTo(-RpmsgCharErrno.EINVAL));
        Assert.That(file.Ioctl(0x4028b57f, 0, default, out _), Is.EqualTo(-RpmsgCharErrno.EINVAL));
        Assert.That(_ctrl.Ioctl(0x4028b57f, Info("x", 1, 2)), Is.EqualTo(-RpmsgCharErrno.EINVAL));
    }

    [Test]
    public void DestroyRemovesTheFileFailsTheBlockedReaderWithEpipeAndEveryLaterCall()
    {
        RpmsgEndpointDevice device = CreateEndpointDevice();
        RpmsgCharFile file = Open(device);
        ulong blocked = ++_token;
        file.Read(blocked, 512, nonBlocking: false);
        file.Poll(9, scheduleNotify: true);
        Assert.That(file.Ioctl(RpmsgCharIoctl.DestroyEndpoint, 0, default, out _), Is.Zero);
        Assert.That(_replies.Wait(blocked).Errno, Is.EqualTo(RpmsgCharErrno.EPIPE));
        Assert.That(_replies.PollWakes(9), Is.EqualTo(1), "the poller sees the change");
        Assert.That(_devices.Find("rpmsg0"), Is.Null, "the file is gone");
        Assert.That(Read(file, 512).Errno, Is.EqualTo(RpmsgCharErrno.EPIPE));
        Assert.That(Write(file, "x"u8).Errno, Is.EqualTo(RpmsgCharErrno.EPIPE));
        Assert.That(file.Poll(10, false), Is.EqualTo(RpmsgCharPollEvents.Err));
        Assert.That(file.Ioctl(RpmsgCharIoctl.DestroyEndpoint, 0, default, out _), Is.Zero, "destroying again is a no-op");
        Assert.That(file.Ioctl(RpmsgCharIoctl.SetIncomingFlowControl, 0, default, out _), Is.EqualTo(-RpmsgCharErrno.EINVAL), "no endpoint: rpmsg_set_flow_control's WARN_ON path");
        Assert.That(device.Open(new RecordingReplies(), out _), Is.EqualTo(-RpmsgCharErrno.EBUSY), "still held by its opener");
        RpmsgEndpointDevice again = CreateEndpointDevice();
        Assert.That(again.Name, Is.EqualTo("rpmsg1"), "rpmsg0's number stays taken while it is open");
        file.Release();
        Assert.That(CreateEndpointDevice().Name, Is.EqualTo("rpmsg0"), "freed at the last close");
    }

    [Test]
    public void AWriteToNoDestinationIsInvalidAndAFixedSourceInUseFailsTheOpen()
    {
        Assert.That(Write(Open(CreateEndpointDevice(dst: RpmsgAddress.Any)), "x"u8).Errno, Is.EqualTo(RpmsgCharErrno.EINVAL));
        using RpmsgEndpoint taken = _link.Host.CreateEndpoint("taken", null, address: 0x600);
        Assert.That(_ctrl.Ioctl(RpmsgCharIoctl.CreateEndpoint, Info("clash", 0x600, EchoAddress)), Is.Zero, "the ioctl only makes the device");
        var clash = (RpmsgEndpointDevice)_devices.Find("rpmsg1")!;
        Assert.That(clash.Open(_replies, out _), Is.EqualTo(-RpmsgCharErrno.EINVAL));
    }
}

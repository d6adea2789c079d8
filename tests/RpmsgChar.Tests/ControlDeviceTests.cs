using AmpCan.Rpmsg;
using AmpCan.RpmsgChar;
using AmpCan.RpmsgChar.Wire;
using AmpCan.Tests.Rpmsg;

namespace AmpCan.Tests.RpmsgChar;

/// <summary>
/// rpmsg_ctrl's channels (CREATE_DEV / RELEASE_DEV), rpmsg_char binding rpmsg-raw channels, and everything going when
/// the rpmsg device goes (a remote crash) and coming back with the next one (recovery), as Linux numbers them.
/// </summary>
public class ControlDeviceTests
{
    private const uint EchoAddress = 0x400;

    private static byte[] Info(string name, uint src, uint dst)
    {
        var b = new byte[RpmsgEndpointInfo.Size];
        new RpmsgEndpointInfo(name, src, dst).Write(b);
        return b;
    }

    private static void Echo(RpmsgLink link) =>
        link.Remote.CreateEndpoint("rpmsg-echo", (in RpmsgReceivedMessage m) => m.Endpoint.PostTo(m.Source, m.Payload), address: EchoAddress);

    [Test]
    public void TheIoctlNumbersAndTheEndpointInfoAreTheKernelsBytes()
    {
        static uint Ioc(uint dir, uint nr, uint size) => (dir << 30) | (size << 16) | (0xb5u << 8) | nr;
        Assert.That(Ioc(1, 1, 40), Is.EqualTo(RpmsgCharIoctl.CreateEndpoint));
        Assert.That(Ioc(0, 2, 0), Is.EqualTo(RpmsgCharIoctl.DestroyEndpoint));
        Assert.That(Ioc(1, 3, 40), Is.EqualTo(RpmsgCharIoctl.CreateDevice));
        Assert.That(Ioc(1, 4, 40), Is.EqualTo(RpmsgCharIoctl.ReleaseDevice));
        Assert.That(Ioc(2, 5, 4), Is.EqualTo(RpmsgCharIoctl.GetOutgoingFlowControl));
        Assert.That(Ioc(2, 6, 4), Is.EqualTo(RpmsgCharIoctl.SetIncomingFlowControl));
        Assert.That(Ioc(1, 1, 40), Is.EqualTo(0x4028b501u), "the value tests/virtio-vm's rpmsg_echo asserts");
        byte[] wire =
        [
            (byte)'r', (byte)'p', (byte)'m', (byte)'s', (byte)'g', (byte)'-', (byte)'r', (byte)'a', (byte)'w', 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0x00, 0x05, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff,
        ];
        Assert.That(Info("rpmsg-raw", 0x500, RpmsgAddress.Any), Is.EqualTo(wire));
        Assert.That(RpmsgEndpointInfo.Read(wire), Is.EqualTo(new RpmsgEndpointInfo("rpmsg-raw", 0x500, RpmsgAddress.Any)));
        byte[] full = new byte[40];
        full.AsSpan(0, 32).Fill((byte)'a');
        Assert.That(RpmsgEndpointInfo.Read(full).Name, Has.Length.EqualTo(31), "rpmsg_ctrl forces name[31] to NUL");
    }

    [Test]
    public void CreateDevOfRpmsgRawAnnouncesItGivesItsDeviceAndReleaseUndoesIt()
    {
        using var link = new RpmsgLink();
        Echo(link);
        var announced = new TaskCompletionSource<RpmsgChannel>(TaskCreationOptions.RunContinuationsAsynchronously);
        var withdrawn = new TaskCompletionSource<RpmsgChannel>(TaskCreationOptions.RunContinuationsAsynchronously);
        link.Remote.ChannelCreated += c => announced.TrySetResult(c);
        link.Remote.ChannelRemoved += c => withdrawn.TrySetResult(c);
        var devices = new RpmsgCharDevices();
        RpmsgCtrlDevice ctrl = devices.Bind(link.Host);
        byte[] raw = Info("rpmsg-raw", 0x500, EchoAddress);
        Assert.That(ctrl.Ioctl(RpmsgCharIoctl.CreateDevice, raw), Is.Zero);
        Assert.That(announced.Task.Wait(TimeSpan.FromSeconds(10)), Is.True, "a fixed source is announced to the remote");
        Assert.That((announced.Task.Result.Name, announced.Task.Result.RemoteAddress), Is.EqualTo(("rpmsg-raw", 0x500u)));
        var device = (RpmsgEndpointDevice)devices.Find("rpmsg0")!;
        Assert.That(device.IsChannelDevice, Is.True);
        var replies = new RecordingReplies();
        Assert.That(device.Open(replies, out RpmsgCharFile? file), Is.Zero);
        file!.Write(1, "through the channel"u8, nonBlocking: false);
        file.Read(2, 512, nonBlocking: false);
        Assert.That(replies.Wait(2).Data, Is.EqualTo("through the channel"u8.ToArray()), "the echo comes back to 0x500");
        Assert.That(file.Ioctl(RpmsgCharIoctl.DestroyEndpoint, 0, default, out _), Is.EqualTo(-RpmsgCharErrno.EINVAL), "a channel's default endpoint is not destroyed by DESTROY_EPT");
        file.Release();
        Assert.That(ctrl.Ioctl(RpmsgCharIoctl.CreateDevice, raw), Is.EqualTo(-RpmsgCharErrno.ENXIO), "the same channel twice");
        Assert.That(ctrl.Ioctl(RpmsgCharIoctl.CreateDevice, Info("rpmsg-echo", RpmsgAddress.Any, EchoAddress)), Is.Zero.Or.EqualTo(-RpmsgCharErrno.ENXIO));
        Assert.That(ctrl.Ioctl(RpmsgCharIoctl.ReleaseDevice, raw), Is.Zero);
        Assert.That(devices.Find("rpmsg0"), Is.Null);
        Assert.That(withdrawn.Task.Wait(TimeSpan.FromSeconds(10)), Is.True, "the release is announced");
        Assert.That(ctrl.Ioctl(RpmsgCharIoctl.ReleaseDevice, raw), Is.EqualTo(-RpmsgCharErrno.EINVAL), "nothing left to release");
        Assert.That(ctrl.Ioctl(RpmsgCharIoctl.CreateDevice, Info("rpmsg_ctrl", RpmsgAddress.Any, RpmsgAddress.Any)), Is.EqualTo(-RpmsgCharErrno.ENXIO), "rpmsg_ctrl's own channel device matches");
    }

    [Test]
    public void ARemotesRpmsgRawChannelGetsItsDeviceAndMessagesBeforeOpenWaitForTheReader()
    {
        using var link = new RpmsgLink();
        var devices = new RpmsgCharDevices();
        devices.Bind(link.Host);
        var appeared = new TaskCompletionSource<RpmsgCharNode>(TaskCreationOptions.RunContinuationsAsynchronously);
        devices.Added += n => { if (n is RpmsgEndpointDevice) appeared.TrySetResult(n); };
        RpmsgEndpoint remote = link.Remote.CreateEndpoint("rpmsg-raw", null, address: 0x402, announce: true);
        Assert.That(appeared.Task.Wait(TimeSpan.FromSeconds(10)), Is.True);
        var device = (RpmsgEndpointDevice)appeared.Task.Result;
        Assert.That(device.Info, Is.EqualTo(new RpmsgEndpointInfo("rpmsg-raw", RpmsgAddress.Any, 0x402)));
        SpinWait.SpinUntil(() => device.LocalAddress is not null, TimeSpan.FromSeconds(10));
        remote.SendTo(device.LocalAddress!.Value, "early"u8);
        var replies = new RecordingReplies();
        Assert.That(device.Open(replies, out RpmsgCharFile? file), Is.Zero);
        file!.Read(1, 512, nonBlocking: false);
        Assert.That(replies.Wait(1).Data, Is.EqualTo("early"u8.ToArray()), "queued by the channel's endpoint before anyone opened");
        file.Write(2, "answer"u8, nonBlocking: false);
        Assert.That(replies.Wait(2).Written, Is.EqualTo(6));
        using RpmsgMessage got = remote.Receive(TimeSpan.FromSeconds(10));
        Assert.That(got.Payload.ToArray(), Is.EqualTo("answer"u8.ToArray()));
        file.Read(3, 512, nonBlocking: false);
        remote.Dispose(); // the remote withdraws the channel
        Assert.That(replies.Wait(3).Errno, Is.EqualTo(RpmsgCharErrno.EPIPE), "the channel went: the blocked reader gets EPIPE");
        Assert.That(devices.Find(device.Name), Is.Null);
    }

    [Test]
    public void ACrashRemovesEveryFileFailsOpenersWithEpipeAndRecoveryBringsRpmsgCtrl0Back()
    {
        var devices = new RpmsgCharDevices();
        RpmsgCharFile file;
        var replies = new RecordingReplies();
        RpmsgCtrlDevice first;
        using (var link = new RpmsgLink())
        {
            Echo(link);
            first = devices.Bind(link.Host);
            Assert.That(first.Name, Is.EqualTo("rpmsg_ctrl0"));
            Assert.That(first.Ioctl(RpmsgCharIoctl.CreateEndpoint, Info("a", RpmsgAddress.Any, EchoAddress)), Is.Zero);
            Assert.That(((RpmsgEndpointDevice)devices.Find("rpmsg0")!).Open(replies, out RpmsgCharFile? opened), Is.Zero);
            file = opened!;
            Assert.That(first.Open(), Is.Zero);
            file.Read(1, 512, nonBlocking: false);
            link.Host.Dispose(); // what recovery does to the crashed remote's rpmsg device
        }
        Assert.That(replies.Wait(1).Errno, Is.EqualTo(RpmsgCharErrno.EPIPE), "the blocked reader");
        Assert.That(devices.Files, Is.Empty, "rpmsg_ctrl0 and rpmsg0 are gone");
        file.Write(2, "x"u8, nonBlocking: false);
        Assert.That(replies.Wait(2).Errno, Is.EqualTo(RpmsgCharErrno.EPIPE));
        Assert.That(file.Poll(3, false), Is.EqualTo(RpmsgCharPollEvents.Err));
        Assert.That(first.Ioctl(RpmsgCharIoctl.CreateEndpoint, Info("a", RpmsgAddress.Any, EchoAddress)), Is.EqualTo(-RpmsgCharErrno.ENODEV), "the old control file has no device behind it");

        using (var link = new RpmsgLink())
        {
            Echo(link);
            Assert.That(devices.Bind(link.Host).Name, Is.EqualTo("rpmsg_ctrl1"), "rpmsg_ctrl0 is still held open by a client");
        }
        first.Release();
        file.Release();
        using (var link = new RpmsgLink())
        {
            Echo(link);
            RpmsgCtrlDevice again = devices.Bind(link.Host);
            Assert.That(again.Name, Is.EqualTo("rpmsg_ctrl0"), "every opener gone: the numbers are free again");
            Assert.That(again.Ioctl(RpmsgCharIoctl.CreateEndpoint, Info("a", RpmsgAddress.Any, EchoAddress)), Is.Zero);
            var device = (RpmsgEndpointDevice)devices.Find("rpmsg0")!;
            var r = new RecordingReplies();
            Assert.That(device.Open(r, out RpmsgCharFile? f), Is.Zero);
            f!.Write(1, "after recovery"u8, nonBlocking: false);
            f.Read(2, 512, nonBlocking: false);
            Assert.That(r.Wait(2).Data, Is.EqualTo("after recovery"u8.ToArray()));
        }
    }
}

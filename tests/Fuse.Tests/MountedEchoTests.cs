using AmpCan.Fuse;
using Microsoft.Extensions.Logging;
using static AmpCan.Tests.Fuse.LibcForTests;

namespace AmpCan.Tests.Fuse;

/// <summary>
/// The server against the real kernel: a file system mounted in a temporary directory, used by this process through
/// open/read/write/poll/ioctl as an rpmsg_char client would.
/// </summary>
public class MountedEchoTests
{
    private const int EPERM = 1, EACCES = 13, ENODEV = 19;
    private CapturingLoggerFactory _logs = null!;
    private EchoFileSystem _fs = null!;
    private FuseServer? _server;
    private string _mountPoint = null!;
    private readonly List<int> _fds = [];

    private string FilePath => Path.Combine(_mountPoint, EchoFileSystem.FileName);

    [SetUp]
    public void Mount()
    {
        if (!File.Exists("/dev/fuse")) Assert.Ignore("/dev/fuse is missing on this machine: the FUSE server cannot be tested here");
        _logs = new CapturingLoggerFactory();
        _fs = new EchoFileSystem();
        _mountPoint = Directory.CreateTempSubdirectory("ampcan-fuse-").FullName;
        try
        {
            _server = FuseServer.Mount(_mountPoint, "ampcan-test", _fs, _logs.CreateLogger("fuse"));
        }
        catch (FuseMountException e) when (e.Errno is EPERM or EACCES or ENODEV)
        {
            Directory.Delete(_mountPoint);
            Assert.Ignore($"mounting a FUSE file system is not permitted here ({e.Message}); run as root or with CAP_SYS_ADMIN");
        }
    }

    [TearDown]
    public void Unmount()
    {
        foreach (int fd in _fds) Close(fd);
        _fds.Clear();
        _server?.Dispose();
        _server = null;
        if (_mountPoint is not null && Directory.Exists(_mountPoint)) Directory.Delete(_mountPoint);
        _logs?.Dispose();
    }

    private int OpenFile(int extraFlags = 0)
    {
        int fd = Open(FilePath, ORdwr | OCloexec | extraFlags);
        Assert.That(fd, Is.GreaterThanOrEqualTo(0), $"open {FilePath}: errno {Errno}");
        _fds.Add(fd);
        return fd;
    }

    private static void WriteAll(int fd, byte[] message) =>
        Assert.That(Write(fd, message, message.Length), Is.EqualTo((nint)message.Length), $"write: errno {Errno}");

    [Test]
    public void EachWriteComesBackAsOneRead()
    {
        int fd = OpenFile();
        byte[] first = [1, 2, 3], second = [.. Enumerable.Range(0, 496).Select(i => (byte)i)];
        WriteAll(fd, first);
        WriteAll(fd, second);
        var buffer = new byte[1024];
        Assert.That(Read(fd, buffer, buffer.Length), Is.EqualTo((nint)3));
        Assert.That(buffer[..3], Is.EqualTo(first));
        Assert.That(Read(fd, buffer, buffer.Length), Is.EqualTo((nint)496));
        Assert.That(buffer[..496], Is.EqualTo(second));
        Assert.That(_server!.NegotiatedMinor, Is.InRange(31u, 38u));
    }

    [Test]
    public void AShortReadTruncatesTheMessage()
    {
        int fd = OpenFile();
        WriteAll(fd, [10, 11, 12, 13, 14]);
        WriteAll(fd, [20]);
        var buffer = new byte[2];
        Assert.That(Read(fd, buffer, 2), Is.EqualTo((nint)2));
        Assert.That(buffer, Is.EqualTo(new byte[] { 10, 11 }));
        Assert.That(Read(fd, buffer, 2), Is.EqualTo((nint)1), "the rest of the first message is discarded");
        Assert.That(buffer[0], Is.EqualTo(20));
    }

    [Test]
    public void NonBlockingReadWithNothingQueuedGivesEagain()
    {
        int fd = OpenFile(ONonblock);
        Assert.That(Read(fd, new byte[16], 16), Is.EqualTo((nint)(-1)));
        Assert.That(Errno, Is.EqualTo(EAGAIN));
    }

    [Test]
    public void ABlockedReadIsAnsweredByALaterWrite()
    {
        int reader = OpenFile(), writer = OpenFile();
        var buffer = new byte[64];
        var read = Task.Run(() => Read(reader, buffer, buffer.Length));
        Assert.That(_fs.ReadHeld.Wait(TimeSpan.FromSeconds(10)), "the read reached the handler");
        WriteAll(writer, [7, 8, 9]);
        Assert.That(read.Wait(TimeSpan.FromSeconds(10)), "the held read was answered");
        Assert.That(read.Result, Is.EqualTo((nint)3));
        Assert.That(buffer[..3], Is.EqualTo(new byte[] { 7, 8, 9 }));
    }

    [Test]
    public void PollReportsReadableAfterAWrite()
    {
        int fd = OpenFile();
        PollFd[] fds = [new PollFd { Fd = fd, Events = PollIn | PollOut }];
        Assert.That(LibcForTests.Poll(fds, 1, 0), Is.EqualTo(1));
        Assert.That(fds[0].ReadyEvents & PollIn, Is.Zero, "nothing queued yet");
        Assert.That(fds[0].ReadyEvents & PollOut, Is.Not.Zero);
        WriteAll(fd, [1]);
        fds[0].ReadyEvents = 0;
        Assert.That(LibcForTests.Poll(fds, 1, 0), Is.EqualTo(1));
        Assert.That(fds[0].ReadyEvents & PollIn, Is.Not.Zero);
    }

    [Test]
    public void AWaitingPollIsWokenByTheNotification()
    {
        int reader = OpenFile(), writer = OpenFile();
        PollFd[] fds = [new PollFd { Fd = reader, Events = PollIn }];
        var poll = Task.Run(() => LibcForTests.Poll(fds, 1, 20_000));
        // Written only once the poll asked to be notified, so that only FUSE_NOTIFY_POLL can wake it.
        Assert.That(_fs.PollScheduled.Wait(TimeSpan.FromSeconds(10)), "the poll reached the handler");
        WriteAll(writer, [5]);
        Assert.That(poll.Wait(TimeSpan.FromSeconds(15)), "poll woke before its own timeout");
        Assert.That(poll.Result, Is.EqualTo(1));
        Assert.That(fds[0].ReadyEvents & PollIn, Is.Not.Zero);
    }

    [Test]
    public void AnIoctlReachesTheHandlerWithItsBytes()
    {
        int fd = OpenFile();
        var info = new byte[40]; // struct rpmsg_endpoint_info { char name[32]; u32 src; u32 dst; }
        "rpmsg-echo"u8.CopyTo(info);
        BitConverter.TryWriteBytes(info.AsSpan(32), 0x400u);
        BitConverter.TryWriteBytes(info.AsSpan(36), 0xFFFFFFFFu);
        Assert.That(Ioctl(fd, EchoFileSystem.CreateEndpointIoctl, info), Is.Zero, $"ioctl: errno {Errno}");
        Assert.That(_fs.Ioctls, Has.Count.EqualTo(1));
        Assert.That(_fs.Ioctls[0].Command, Is.EqualTo(EchoFileSystem.CreateEndpointIoctl));
        Assert.That(_fs.Ioctls[0].Input, Is.EqualTo(info));
    }

    [Test]
    public void AnUnknownIoctlGivesEnotty()
    {
        int fd = OpenFile();
        Assert.That(Ioctl(fd, 0xB502, 0), Is.EqualTo(-1));
        Assert.That(Errno, Is.EqualTo(ENOTTY));
    }

    [Test]
    public void UnmountLeavesNothingMounted()
    {
        int fd = OpenFile();
        WriteAll(fd, [1]);
        Close(fd);
        _fds.Clear();
        Assert.That(File.ReadAllText("/proc/self/mountinfo"), Does.Contain(_mountPoint));
        _server!.Dispose();
        _server = null;
        Assert.That(File.ReadAllText("/proc/self/mountinfo"), Does.Not.Contain(_mountPoint));
        Assert.That(_logs.AtLeast(LogLevel.Warning), Is.Empty);
    }
}

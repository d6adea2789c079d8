using System.Net.Sockets;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;

namespace AmpCan.Tests.SharedMem;

public class DoorbellTests
{
    [Test]
    public void EventFdPairDeliversEachRingToTheOtherSideOnly()
    {
        var (a, b) = EventFdDoorbell.CreatePair();
        using (a)
        using (b)
        {
            Assert.That(b.Acknowledge(), Is.False);
            a.Ring();
            a.Ring();
            Assert.Multiple(() =>
            {
                Assert.That(a.Acknowledge(), Is.False, "a ring is not seen by the ringer");
                Assert.That(b.Acknowledge(), Is.True);
                Assert.That(b.Acknowledge(), Is.False, "two rings coalesce into one wake-up");
            });
            b.Ring();
            Assert.That(a.Wait(TimeSpan.FromSeconds(5)), Is.True);
            Assert.That(a.Wait(TimeSpan.FromMilliseconds(20)), Is.False, "nothing pending: the wait times out");
        }
    }

    [Test]
    public void WaitWakesWhenAnotherThreadRings()
    {
        var (a, b) = EventFdDoorbell.CreatePair();
        using (a)
        using (b)
        {
            var t = new Thread(() => a.Ring());
            t.Start();
            Assert.That(b.Wait(TimeSpan.FromSeconds(10)), Is.True);
            t.Join();
        }
    }

    [Test]
    public void PollingDoorbellCannotBeWaitedOn()
    {
        using var p = new PollingDoorbell();
        p.Ring();
        Assert.That(p.WaitFd, Is.EqualTo(-1));
        Assert.Throws<NotSupportedException>(() => p.Wait(TimeSpan.Zero));
    }

    [Test]
    public void MailboxRegisterWritesValueWithNotifyId()
    {
        using var regs = MappedRegion.CreateMemfd("mbox", 4096);
        new MailboxRegister(regs.Io, 12, Value: 0x3, NotifyIdShift: 16).Ring(2);
        new MailboxRegister(regs.Io, 16, Value: 0xAB).Ring(7);
        Assert.That(regs.Io.ReadU32(12), Is.EqualTo(0x0002_0003u));
        Assert.That(regs.Io.ReadU32(16), Is.EqualTo(0xABu));
    }

    [Test]
    public void MissingUioDeviceIsNamedInTheError()
    {
        var e = Assert.Throws<SharedMemoryException>(() => new UioDoorbell("/dev/uio-ampcan-missing", null));
        Assert.That(e!.Message, Does.Contain("/dev/uio-ampcan-missing"));
    }

    [Test]
    public void DescriptorsTravelOverAUnixSocket()
    {
        using var region = MappedRegion.CreateMemfd("passed", 4096);
        region.Io.WriteU32(0, 0x600DF00D);
        var (bellA, bellB) = EventFdDoorbell.CreatePair();
        using var left = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        string path = Path.Combine(Path.GetTempPath(), $"ampcan-fd-{Guid.NewGuid():N}.sock");
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        left.Connect(new UnixDomainSocketEndPoint(path));
        using Socket right = listener.Accept();
        File.Delete(path);

        UnixFdChannel.Send(left, "hello"u8, [region.FileDescriptor, bellB.RingFd, bellB.WaitFd]);
        byte[] buf = new byte[16];
        int n = UnixFdChannel.Receive(right, buf, out int[] fds);
        Assert.That(n, Is.EqualTo(5));
        Assert.That(fds, Has.Length.EqualTo(3));

        using var mapped = MappedRegion.MapMemfd(fds[0], 4096);
        using var remoteBell = new EventFdDoorbell(fds[1], fds[2]);
        Assert.That(mapped.Io.ReadU32(0), Is.EqualTo(0x600DF00Du));
        remoteBell.Ring();
        Assert.That(bellA.Acknowledge(), Is.True, "the received eventfd is the same kernel object");
        bellA.Dispose();
        bellB.Dispose();
    }
}

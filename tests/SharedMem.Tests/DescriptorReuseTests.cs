using System.Net.Sockets;
using System.Runtime.Versioning;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;
using static Tmds.Linux.LibC;

namespace AmpCan.Tests.SharedMem;

/// <summary>
/// Use after close: a call after (or racing with) Dispose must never read or write a descriptor number that the next
/// open of any thread may have been given. Each test disposes, puts a fresh file at the very number, calls, and checks
/// that the call failed with <see cref="ObjectDisposedException"/> and the fresh file saw nothing.
/// </summary>
[SupportedOSPlatform("linux")]
public class DescriptorReuseTests
{
    private readonly List<int> _open = [];

    [TearDown]
    public void CloseDescriptors()
    {
        foreach (int fd in _open) close(fd);
        _open.Clear();
    }

    private int Track(int fd)
    {
        Assert.That(fd, Is.GreaterThanOrEqualTo(0));
        _open.Add(fd);
        return fd;
    }

    /// <summary>A pipe (non-blocking, close-on-exec): read end, write end.</summary>
    private (int Read, int Write) Pipe()
    {
        int[] p = new int[2];
        Assert.That(LibcForTests.Pipe2(p, O_NONBLOCK | O_CLOEXEC), Is.Zero);
        return (Track(p[0]), Track(p[1]));
    }

    /// <summary>A connected pair of UNIX stream sockets (non-blocking, close-on-exec).</summary>
    private (int A, int B) SocketPair()
    {
        int[] p = new int[2];
        Assert.That(LibcForTests.SocketPair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, p), Is.Zero);
        return (Track(p[0]), Track(p[1]));
    }

    /// <summary>Makes descriptor number <paramref name="number"/> (just freed) refer to <paramref name="source"/>'s file, as the next open would.</summary>
    private void Occupy(int number, int source)
    {
        int fd = Track(fcntl(source, F_DUPFD_CLOEXEC, number));
        if (fd != number) Assert.Inconclusive($"another thread took descriptor {number} first (got {fd}); the sequence could not be set up");
    }

    /// <summary>Bytes waiting in a non-blocking pipe or socket (0 when empty).</summary>
    private static int Pending(int fd)
    {
        byte[] buf = new byte[64];
        nint n = LibcForTests.Read(fd, buf, buf.Length);
        return n < 0 ? 0 : (int)n;
    }

    [Test]
    public void EventFdRingAfterDisposeNeverWritesTheReusedNumber()
    {
        var (a, b) = EventFdDoorbell.CreatePair();
        b.Dispose();
        int number = a.RingFd;
        var (read, write) = Pipe();
        a.Dispose();
        Occupy(number, write);

        Assert.Throws<ObjectDisposedException>(() => a.Ring());
        Assert.That(Pending(read), Is.Zero, "the pipe that took the eventfd's number received nothing");
    }

    [Test]
    public void EventFdAcknowledgeAndWaitAfterDisposeNeverReadTheReusedNumber()
    {
        var (a, b) = EventFdDoorbell.CreatePair();
        b.Dispose();
        int number = a.WaitFd;
        var (read, write) = Pipe();
        Assert.That(LibcForTests.Write(write, new byte[8], 8), Is.EqualTo((nint)8));
        a.Dispose();
        Occupy(number, read);

        Assert.Throws<ObjectDisposedException>(() => a.Acknowledge());
        Assert.Throws<ObjectDisposedException>(() => a.Wait(TimeSpan.FromSeconds(1)));
        Assert.That(Pending(read), Is.EqualTo(8), "the 8 bytes in the pipe that took the number are still there");
        Assert.That(a.WaitFd, Is.EqualTo(-1));
    }

    [Test]
    public void UnixSocketRingAndAcknowledgeAfterDisposeNeverTouchTheReusedNumber()
    {
        var (server, client, _) = SocketDoorbellPair.Connect();
        server.Dispose();
        int number = client.WaitFd;
        var (mine, theirs) = SocketPair();
        Assert.That(LibcForTests.Write(theirs, [7], 1), Is.EqualTo((nint)1));
        client.Dispose();
        Occupy(number, mine);

        Assert.Throws<ObjectDisposedException>(() => client.Ring(1));
        Assert.Throws<ObjectDisposedException>(() => client.Acknowledge());
        Assert.Multiple(() =>
        {
            Assert.That(Pending(theirs), Is.Zero, "no kick went out on the socket that took the number");
            Assert.That(Pending(mine), Is.EqualTo(1), "and its unread byte was not consumed");
        });
    }

    [Test]
    public void UioAcknowledgeAndRingAfterDisposeNeverTouchTheReusedNumber()
    {
        // A FIFO stands in for /dev/uioN: the doorbell writes 1 to enable the interrupt and reads a 4-byte count.
        string fifo = Path.Combine("/dev/shm", $"ampcan-uio-{Guid.NewGuid():N}");
        Assert.That(LibcForTests.MkFifo(fifo, 0x180), Is.Zero);
        try
        {
            using var regs = MappedRegion.CreateMemfd("mbox", 4096);
            var bell = new UioDoorbell(fifo, new MailboxRegister(regs.Io, 0, Value: 0xAB));
            Assert.That(bell.Acknowledge(), Is.True, "the FIFO returned the enable write as an event count");
            int number = bell.WaitFd;
            var (read, write) = Pipe();
            Assert.That(LibcForTests.Write(write, new byte[4], 4), Is.EqualTo((nint)4));
            bell.Dispose();
            Occupy(number, read);

            Assert.Throws<ObjectDisposedException>(() => bell.Acknowledge());
            Assert.Throws<ObjectDisposedException>(() => bell.Ring(1));
            Assert.Multiple(() =>
            {
                Assert.That(Pending(read), Is.EqualTo(4), "the pipe that took the number was not read");
                Assert.That(regs.Io.ReadU32(0), Is.Zero, "no mailbox write after dispose");
            });
        }
        finally
        {
            File.Delete(fifo);
        }
    }

    [Test]
    public void BlockingEventFdAfterDisposeNeverTouchesTheReusedNumber()
    {
        // Its number is not exposed: the one eventfd that appears in /proc/self/fd when it is made.
        HashSet<int> before = EventFds();
        var bell = new BlockingEventFd();
        int number = EventFds().Except(before).Single();
        bell.Signal();
        bell.Wait();
        var (read, write) = Pipe();
        Assert.That(LibcForTests.Write(write, new byte[8], 8), Is.EqualTo((nint)8));
        bell.Dispose();
        Occupy(number, read);

        Assert.Throws<ObjectDisposedException>(() => bell.Signal());
        Assert.Throws<ObjectDisposedException>(() => bell.Wait());
        Assert.That(Pending(read), Is.EqualTo(8), "the pipe that took the number was neither read nor written");
    }

    private static HashSet<int> EventFds() =>
        new DirectoryInfo("/proc/self/fd").GetFileSystemInfos()
            .Where(f => f.LinkTarget == "anon_inode:[eventfd]")
            .Select(f => int.Parse(f.Name))
            .ToHashSet();

    [Test]
    public void MappedRegionAfterDisposeNeitherDuplicatesNorHandsOutTheReusedNumber()
    {
        var region = MappedRegion.CreateMemfd("t-reuse", 4096);
        int number = region.FileDescriptor;
        var (read, _) = Pipe();
        region.Dispose();
        Occupy(number, read);

        Assert.Throws<ObjectDisposedException>(() => region.MapAgain());
        Assert.That(region.FileDescriptor, Is.EqualTo(-1));
        Assert.That(region.FileHandle!.IsClosed, Is.True);
    }

    [Test]
    public void UnixFdChannelNeverSendsOnAReusedSocketNumber()
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        int number = (int)socket.Handle;
        var (mine, theirs) = SocketPair();
        socket.Dispose();
        Occupy(number, mine);

        Assert.Throws<ObjectDisposedException>(() => UnixFdChannel.Send(socket, "hello"u8, ReadOnlySpan<int>.Empty));
        Assert.Throws<ObjectDisposedException>(() => UnixFdChannel.Receive(socket, new byte[16], out _));
        Assert.That(Pending(theirs), Is.Zero, "nothing went out on the socket that took the number");
    }

    [Test]
    public void HandlesOfADisposedDoorbellAreNeverPassedOn()
    {
        var (a, b) = EventFdDoorbell.CreatePair();
        a.Dispose();
        var (left, right) = SocketPair();
        using var sending = new Socket(new SafeSocketHandle(left, ownsHandle: false));
        Assert.Throws<ObjectDisposedException>(() => UnixFdChannel.Send(sending, "x"u8, [b.RingFdHandle, a.WaitFdHandle]));
        Assert.That(Pending(right), Is.Zero, "no message, and so no descriptor, left");
        Assert.That(b.RingFd, Is.Not.EqualTo(-1), "the live handle was released again, not closed");
        b.Ring();
        b.Dispose();
    }

    [Test]
    public void ADescriptorInUseWhenDisposedIsClosedOnlyWhenTheCallLeaves()
    {
        // What makes a call racing with Dispose safe, shown step by step: a race cannot be reproduced on demand.
        int fd = Track(eventfd(0, EFD_CLOEXEC));
        _open.Remove(fd); // the handle owns it
        var handle = new FileDescriptorHandle(fd);
        int inCall = handle.Enter("t");
        handle.Dispose();
        Assert.Multiple(() =>
        {
            Assert.That(inCall, Is.EqualTo(fd));
            Assert.That(fcntl(fd, F_GETFD), Is.Not.EqualTo(-1), "still open while the call uses it: no open can be given its number");
            Assert.Throws<ObjectDisposedException>(() => handle.Enter("t"), "but no new call may start");
        });
        handle.Exit();
        Assert.That(fcntl(fd, F_GETFD), Is.EqualTo(-1), "closed as the last call left");
    }
}

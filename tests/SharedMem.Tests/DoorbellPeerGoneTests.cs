using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;

namespace AmpCan.Tests.SharedMem;

/// <summary>
/// A peer that left is an ordinary event with its own type (<see cref="DoorbellClosedException"/>), so the layer above
/// can tell "peer gone" from a fault; every other failure stays a <see cref="SharedMemoryException"/> naming the operation.
/// </summary>
public class DoorbellPeerGoneTests
{
    [Test]
    public void AKickToAPeerThatClosedIsDoorbellClosed()
    {
        var (server, client, path) = SocketDoorbellPair.Connect();
        using (server)
        {
            client.Dispose();
            var e = Assert.Throws<DoorbellClosedException>(() => server.Ring())!; // EPIPE
            Assert.That(e.Message, Does.Contain(path));
        }
    }

    [Test]
    public void AcknowledgeAfterThePeerResetIsDoorbellClosed()
    {
        var (server, client, path) = SocketDoorbellPair.Connect();
        using (client)
        {
            client.Ring(); // left unread: closing with unread data resets the connection
            server.Dispose();
            var e = Assert.Throws<DoorbellClosedException>(() => client.Acknowledge())!; // ECONNRESET
            Assert.That(e.Message, Does.Contain(path));
            Assert.Throws<DoorbellClosedException>(() => client.Ring());
        }
    }

    [Test]
    public void AcknowledgeAfterAnOrderlyCloseIsDoorbellClosed()
    {
        var (server, client, _) = SocketDoorbellPair.Connect();
        using (server)
        {
            client.Dispose();
            Assert.Throws<DoorbellClosedException>(() => server.Acknowledge()); // end of stream
        }
    }

    [Test]
    public void OtherFailuresStaySharedMemoryExceptionsNamingTheOperation()
    {
        // A ring descriptor that cannot be written (a pipe's read end): EBADF, a fault and not a departure.
        int[] pipe = new int[2];
        Assert.That(LibcForTests.Pipe2(pipe, Tmds.Linux.LibC.O_CLOEXEC), Is.Zero);
        using var bell = new EventFdDoorbell(pipe[0], pipe[1]);
        var e = Assert.Throws<SharedMemoryException>(() => bell.Ring())!;
        Assert.That(e.Message, Does.Contain("write to eventfd"));
        Assert.That(e.Errno, Is.EqualTo(Tmds.Linux.LibC.EBADF));
    }
}

using System.Buffers.Binary;
using System.Diagnostics;
using AmpCan.SharedMem;
using static Tmds.Linux.LibC;

namespace AmpCan.Tests.SharedMem;

/// <summary>
/// RawSocket over real sockets of the families this machine has (AF_UNIX datagram pairs, UDP on loopback): SocketCAN is
/// its purpose, but the kernel running the unit tests need not have CAN (the kernel-VM tests use it on vcan).
/// </summary>
public class RawSocketTests
{
    // struct sockaddr_in: le16 sin_family, be16 sin_port, be32 sin_addr, 8 bytes of zero.
    private static byte[] Loopback(ushort port)
    {
        byte[] a = new byte[16];
        BinaryPrimitives.WriteUInt16LittleEndian(a, (ushort)AF_INET);
        BinaryPrimitives.WriteUInt16BigEndian(a.AsSpan(2), port);
        a[4] = 127;
        a[7] = 1;
        return a;
    }

    private static ushort PortOf(RawSocket s)
    {
        byte[] a = new byte[16];
        Assert.That(s.LocalAddress(a), Is.EqualTo(16));
        return BinaryPrimitives.ReadUInt16BigEndian(a.AsSpan(2));
    }

    private static RawSocket BoundUdp()
    {
        var s = RawSocket.Open(AF_INET, SOCK_DGRAM, 0);
        s.Bind(Loopback(0));
        return s;
    }

    [Test]
    public void ADatagramArrivesWholeWithItsLengthAndNoFlags()
    {
        var (a, b) = RawSocket.OpenPair(AF_UNIX, SOCK_DGRAM);
        using (a)
        using (b)
        {
            byte[] sent = [1, 2, 3, 4, 5, 6, 7];
            Assert.That(a.TrySend(sent, out int error), Is.EqualTo(SocketSendResult.Sent));
            Assert.That(error, Is.Zero);
            Assert.That(b.WaitReadable(10_000), Is.EqualTo(SocketWaitResult.Readable));
            byte[] buffer = new byte[64];
            Assert.That(b.TryReceive(buffer, out ReceivedDatagram d, out _), Is.EqualTo(SocketReceiveResult.Received));
            Assert.That(d, Is.EqualTo(new ReceivedDatagram(7, ReceivedFlags.None, 0)));
            Assert.That(buffer[..7], Is.EqualTo(sent));
            Assert.That(b.TryReceive(buffer, out _, out error), Is.EqualTo(SocketReceiveResult.Empty));
            Assert.That(error, Is.EqualTo(EAGAIN));
        }
    }

    [Test]
    public void ADatagramLongerThanTheBufferIsCutAndFlagged()
    {
        var (a, b) = RawSocket.OpenPair(AF_UNIX, SOCK_DGRAM);
        using (a)
        using (b)
        {
            a.TrySend(new byte[100], out _);
            Assert.That(b.TryReceive(new byte[16], out ReceivedDatagram d, out _), Is.EqualTo(SocketReceiveResult.Received));
            Assert.That((d.Length, d.Flags), Is.EqualTo((16, ReceivedFlags.Truncated)));
        }
    }

    [Test]
    public void AFullSocketIsBusyNotBlockedAndTakesMoreOnceRead()
    {
        var (a, b) = RawSocket.OpenPair(AF_UNIX, SOCK_DGRAM);
        using (a)
        using (b)
        {
            byte[] datagram = new byte[64];
            int sent = 0;
            SocketSendResult r;
            int error;
            while ((r = a.TrySend(datagram, out error)) == SocketSendResult.Sent) Assert.That(++sent, Is.LessThan(1_000_000), "the queue never filled");
            Assert.That((r, error), Is.EqualTo((SocketSendResult.Busy, EAGAIN)));
            Assert.That(sent, Is.GreaterThan(0));
            Assert.That(b.TryReceive(datagram, out _, out _), Is.EqualTo(SocketReceiveResult.Received));
            Assert.That(a.TrySend(datagram, out _), Is.EqualTo(SocketSendResult.Sent));
        }
    }

    [Test]
    public void ErrnosMapToBusyDownOrFailed()
    {
        Assert.That(new[] { EAGAIN, ENOBUFS }.Select(RawSocket.ClassifySendError), Is.All.EqualTo(SocketSendResult.Busy));
        Assert.That(new[] { ENETDOWN, ENXIO, ENODEV }.Select(RawSocket.ClassifySendError), Is.All.EqualTo(SocketSendResult.Down));
        Assert.That(new[] { EINVAL, EMSGSIZE, ECONNREFUSED }.Select(RawSocket.ClassifySendError), Is.All.EqualTo(SocketSendResult.Failed));
        Assert.That(RawSocket.ClassifyReceiveError(EAGAIN), Is.EqualTo(SocketReceiveResult.Empty));
        Assert.That(new[] { ENETDOWN, ENXIO, ENODEV }.Select(RawSocket.ClassifyReceiveError), Is.All.EqualTo(SocketReceiveResult.Down));
        Assert.That(RawSocket.ClassifyReceiveError(EBADMSG), Is.EqualTo(SocketReceiveResult.Failed));
    }

    [Test]
    public void ASendToNobodyFailsWithItsErrno()
    {
        var (a, b) = RawSocket.OpenPair(AF_UNIX, SOCK_DGRAM);
        using (a)
        {
            b.Dispose();
            Assert.That(a.TrySend([1], out int error), Is.EqualTo(SocketSendResult.Failed));
            Assert.That(error, Is.EqualTo(ECONNREFUSED));
        }
    }

    [Test]
    public void WaitingEndsAtTheTimeoutWhenNothingComes()
    {
        var (a, b) = RawSocket.OpenPair(AF_UNIX, SOCK_DGRAM);
        using (a)
        using (b)
        {
            var clock = Stopwatch.StartNew();
            Assert.That(b.WaitReadable(100), Is.EqualTo(SocketWaitResult.TimedOut));
            Assert.That(clock.ElapsedMilliseconds, Is.GreaterThanOrEqualTo(90));
        }
    }

    [Test]
    public void WakeAndDisposeEndAWaitThatHasNoTimeout()
    {
        var (a, b) = RawSocket.OpenPair(AF_UNIX, SOCK_DGRAM);
        using (a)
        {
            Task<SocketWaitResult> waiting = Task.Factory.StartNew(() => b.WaitReadable(-1), TaskCreationOptions.LongRunning);
            Assert.That(waiting.Wait(200), Is.False, "the wait ended by itself");
            b.Wake();
            Assert.That(waiting.Wait(10_000), Is.True);
            Assert.That(waiting.Result, Is.EqualTo(SocketWaitResult.Woken));

            waiting = Task.Factory.StartNew(() => b.WaitReadable(-1), TaskCreationOptions.LongRunning);
            Assert.That(waiting.Wait(200), Is.False, "the wake-up was taken twice");
            b.Dispose();
            Assert.That(waiting.Wait(10_000), Is.True);
            Assert.That(waiting.Result, Is.EqualTo(SocketWaitResult.Woken));
            Assert.That(() => b.WaitReadable(0), Throws.InstanceOf<ObjectDisposedException>());
            Assert.That(() => b.TrySend([1], out _), Throws.InstanceOf<ObjectDisposedException>());
        }
    }

    [Test]
    public void InterfaceLookupsMatchWhatSysfsSays()
    {
        using var s = RawSocket.Open(AF_INET, SOCK_DGRAM, 0);
        static int Sys(string file)
        {
            string text = File.ReadAllText($"/sys/class/net/lo/{file}").Trim();
            return text.StartsWith("0x", StringComparison.Ordinal) ? Convert.ToInt32(text[2..], 16) : int.Parse(text);
        }
        Assert.That(s.InterfaceIndex("lo"), Is.EqualTo(Sys("ifindex")));
        Assert.That(s.InterfaceMtu("lo"), Is.EqualTo(Sys("mtu")));
        Assert.That(s.InterfaceIsUp("lo"), Is.EqualTo((Sys("flags") & 1) != 0));
        var e = Assert.Throws<SharedMemoryException>(() => s.InterfaceIndex("nosuch9"))!;
        Assert.That(e.Errno, Is.EqualTo(ENODEV));
        Assert.That(e.Message, Does.Contain("'nosuch9'"));
    }

    [TestCase("")]
    [TestCase("sixteen-letters!")]
    [TestCase("a\0b")]
    [TestCase("ü-is-two-bytes1")] // 15 characters, 16 bytes in UTF-8
    public void InterfaceNamesLinuxCannotHoldAreRefusedBeforeAnySystemCall(string name)
    {
        using var s = RawSocket.Open(AF_INET, SOCK_DGRAM, 0);
        Assert.That(() => s.InterfaceIndex(name), Throws.ArgumentException);
    }

    [Test]
    public void AFifteenByteNameFillsTheFieldUpToItsNul()
    {
        byte[] field = new byte[RawSocket.InterfaceNameSize];
        Array.Fill(field, (byte)0xEE);
        RawSocket.WriteInterfaceName("fifteen-letters", field);
        Assert.That(field, Is.EqualTo("fifteen-letters\0"u8.ToArray()));
    }

    [Test]
    public void OptionsAreSetAndReadBack()
    {
        using var s = RawSocket.Open(AF_INET, SOCK_DGRAM, 0);
        s.SetOption(SOL_SOCKET, SO_RCVBUF, 65536);
        Assert.That(s.GetInt32Option(SOL_SOCKET, SO_RCVBUF), Is.EqualTo(2 * 65536), "the kernel doubles SO_RCVBUF for its bookkeeping");
        int max = int.Parse(File.ReadAllText("/proc/sys/net/core/rmem_max").Trim());
        int granted = s.SetReceiveBuffer(2 * max);
        if (geteuid() == 0) Assert.That(granted, Is.EqualTo(4 * max), "as root the limit does not apply (SO_RCVBUFFORCE)");
        else Assert.That(granted, Is.EqualTo(2 * max), "without CAP_NET_ADMIN the request is capped at rmem_max");
        var e = Assert.Throws<SharedMemoryException>(() => s.SetOption(SOL_SOCKET, 9999, 1))!;
        Assert.That(e.Errno, Is.EqualTo(ENOPROTOOPT));
    }

    [Test]
    public void TheDropCounterTellsHowManyDatagramsAFullBufferLost()
    {
        using RawSocket receiver = BoundUdp();
        receiver.SetOption(SOL_SOCKET, SO_RCVBUF, 1); // the kernel's minimum: a few datagrams
        receiver.EnableDropCounter();
        using var sender = RawSocket.Open(AF_INET, SOCK_DGRAM, 0);
        sender.Connect(Loopback(PortOf(receiver)));
        const int Sent = 200;
        byte[] datagram = new byte[200];
        for (int i = 0; i < Sent; i++) Assert.That(sender.TrySend(datagram, out _), Is.EqualTo(SocketSendResult.Sent));
        int received = 0;
        while (receiver.TryReceive(datagram, out ReceivedDatagram d, out _) == SocketReceiveResult.Received)
        {
            received++;
            Assert.That(d.DropCount, Is.Zero, "the ones queued before the buffer filled carry no drops");
        }
        Assert.That(received, Is.InRange(1, Sent - 1), "a tiny buffer holds some but not all");
        Assert.That(receiver.DropCount(), Is.EqualTo((uint)(Sent - received)), "SO_MEMINFO tells the drops before any datagram carries them");
        Assert.That(sender.TrySend(datagram, out _), Is.EqualTo(SocketSendResult.Sent));
        Assert.That(receiver.WaitReadable(10_000), Is.EqualTo(SocketWaitResult.Readable));
        Assert.That(receiver.TryReceive(datagram, out ReceivedDatagram last, out _), Is.EqualTo(SocketReceiveResult.Received));
        Assert.That(last.DropCount, Is.EqualTo((uint)(Sent - received)));
    }

    [Test]
    public void SendingAndReceivingAllocateNothing()
    {
        var (a, b) = RawSocket.OpenPair(AF_UNIX, SOCK_DGRAM);
        using (a)
        using (b)
        {
            b.EnableDropCounter();
            byte[] datagram = new byte[72];
            for (int i = 0; i < 100; i++) RoundTrip(a, b, datagram); // warm-up: JIT and tiering allocate
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 10_000; i++) RoundTrip(a, b, datagram);
            Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
        }

        static void RoundTrip(RawSocket a, RawSocket b, byte[] datagram)
        {
            if (a.TrySend(datagram, out _) != SocketSendResult.Sent) Assert.Fail("send");
            if (b.WaitReadable(10_000) != SocketWaitResult.Readable) Assert.Fail("wait");
            if (b.TryReceive(datagram, out _, out _) != SocketReceiveResult.Received) Assert.Fail("receive");
        }
    }
}

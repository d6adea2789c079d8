using System.Diagnostics;
using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;

namespace AmpCan.Tests.VirtioCan;

/// <summary>
/// A paced bus: frames reach the members (and confirm to their sender) no sooner than the wire would have carried them,
/// in send order; a full transmit queue answers Busy and loses nothing it answered Sent for. Times are lower bounds
/// (Stopwatch), with generous upper bounds only where a hang must fail.
/// </summary>
public class VirtualCanBusPacingTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private static CanFrame Frame(int i, CanFrameKind kind = CanFrameKind.None, byte length = 8)
    {
        var f = new CanFrame { Id = (uint)(i & 0x7FF), Kind = kind, Length = length };
        BitConverter.TryWriteBytes(f.Payload, i);
        return f;
    }

    private static int Sequence(in CanFrame f) => BitConverter.ToInt32(((ReadOnlySpan<byte>)f.Data)[..4]);

    private static TimeSpan WireTime(in CanFrame f, VirtualCanBus bus) => TimeSpan.FromTicks(CanWireTime.Nanoseconds(f, bus.Bitrate, bus.DataBitrate) / 100);

    [TestCase(125_000, 0, CanFrameKind.None, 8, TestName = "ClassicFramesAt125kbit")]
    [TestCase(500_000, 2_000_000, CanFrameKind.Fd | CanFrameKind.BitRateSwitch, 64, TestName = "FdFramesAt500kAnd2Mbit")]
    public void EachFrameArrivesNoSoonerThanTheWireCarriesItAndInOrder(int bitrate, int dataBitrate, CanFrameKind kind, int length)
    {
        const int n = 100;
        using var bus = new VirtualCanBus("paced", bitrate, dataBitrate);
        using VirtualCanPort sender = bus.Attach("sender"), receiver = bus.Attach("receiver");
        TimeSpan frameTime = WireTime(Frame(0, kind, (byte)length), bus);
        long start = Stopwatch.GetTimestamp();
        using var reader = new PortReader(receiver, start);
        for (int i = 0; i < n; i++) Assert.That(sender.Send(Frame(i, kind, (byte)length)), Is.EqualTo(CanSendResult.Sent));
        Assert.That(receiver.Pending, Is.LessThan(n), "frames wait for the wire, not for nothing");
        reader.TakeUntil(n, Patience);
        TimeSpan elapsed = Stopwatch.GetElapsedTime(start);

        Assert.That(reader.Frames.Select(f => Sequence(f)), Is.EqualTo(Enumerable.Range(0, n)), "send order");
        for (int i = 0; i < n; i++)
            Assert.That(reader.TakenAt[i], Is.GreaterThanOrEqualTo(frameTime * (i + 1)), $"frame {i} arrived before {i + 1} frame times");
        Assert.That(elapsed, Is.GreaterThanOrEqualTo(frameTime * n));
        Assert.That(elapsed, Is.LessThan(frameTime * n * 10 + TimeSpan.FromSeconds(5)), "and not stuck");
        Assert.That((bus.Carried, bus.Refused, receiver.Dropped), Is.EqualTo(((long)n, 0L, 0L)));
    }

    [Test]
    public void ASendThatFindsTheTransmitQueueFullIsBusyAndEveryFrameAnsweredSentArrivesInOrder()
    {
        // 5 kbit/s: 22 ms a frame, so the ten sends all happen while the first four wait.
        using var bus = new VirtualCanBus("slow", bitrate: 5_000, transmitQueue: 4);
        using VirtualCanPort sender = bus.Attach("sender"), receiver = bus.Attach("receiver");
        using var reader = new PortReader(receiver);
        var accepted = new List<int>();
        int busy = 0;
        for (int i = 0; i < 10; i++)
        {
            CanSendResult r = sender.Send(Frame(i));
            if (r == CanSendResult.Sent) accepted.Add(i);
            else if (r == CanSendResult.Busy) busy++;
            else Assert.Fail($"send {i}: {r}");
        }
        Assert.That(accepted, Has.Count.GreaterThanOrEqualTo(4), "the queue holds four");
        Assert.That(busy, Is.GreaterThan(0));
        Assert.That((bus.Refused, sender.Sent), Is.EqualTo(((long)busy, (long)accepted.Count)));

        reader.TakeUntil(accepted.Count, Patience);
        Assert.That(reader.Frames.Select(f => Sequence(f)), Is.EqualTo(accepted), "every frame answered Sent, none other, in order");
        Assert.That(sender.Send(Frame(99)), Is.EqualTo(CanSendResult.Sent), "room again once the wire carried them");
        reader.TakeUntil(accepted.Count + 1, Patience);
        Assert.That(receiver.Dropped, Is.Zero);
    }

    [Test]
    public void BelowTheRateNothingIsLostAndEachEchoFollowsTheFramesArrival()
    {
        // The sender keeps at most eight frames unconfirmed (as a driver with LATE_TX_ACK does): below the queue's bound,
        // so the bus never refuses one.
        const int n = 200, window = 8;
        using var bus = new VirtualCanBus("paced", bitrate: 500_000, transmitQueue: 16);
        using VirtualCanPort sender = bus.Attach("sender"), receiver = bus.Attach("receiver");
        sender.ConfirmsTransmits = true;
        TimeSpan frameTime = WireTime(Frame(0), bus);
        long start = Stopwatch.GetTimestamp();
        using var echoes = new PortReader(sender, start);
        int sent = 0;
        while (echoes.Frames.Count < n)
        {
            while (sent < n && sent - echoes.Frames.Count < window)
                Assert.That(sender.Send(Frame(sent++)), Is.EqualTo(CanSendResult.Sent));
            int before = echoes.Frames.Count;
            Assert.That(echoes.WaitArrival(Patience), Is.True, $"an echo within {Patience}");
            echoes.TakeWaiting();
            // Everything confirmed so far has reached the receiver already: its queue holds at least as many.
            Assert.That(receiver.Received + receiver.Pending, Is.GreaterThanOrEqualTo((long)echoes.Frames.Count), $"echoes {before}..{echoes.Frames.Count} before their frames arrived");
        }
        Assert.That(echoes.Frames.All(f => f.IsEcho), Is.True);
        Assert.That(echoes.Frames.Select(f => Sequence(f)), Is.EqualTo(Enumerable.Range(0, n)), "confirmed in send order");
        for (int i = 0; i < n; i++)
            Assert.That(echoes.TakenAt[i], Is.GreaterThanOrEqualTo(frameTime * (i + 1)), $"echo {i} before the wire carried frame {i}");
        using var reader = new PortReader(receiver);
        reader.TakeUntil(n, Patience);
        Assert.That(reader.Frames.Select(f => Sequence(f)), Is.EqualTo(Enumerable.Range(0, n)));
        Assert.That((bus.Refused, receiver.Dropped, sender.Dropped), Is.EqualTo((0L, 0L, 0L)));
    }

    [Test]
    public void DisposingStopsThePacerPromptlyAndLaterSendsAreDown()
    {
        var bus = new VirtualCanBus("slow", bitrate: 1_000); // 111 ms a frame
        using VirtualCanPort sender = bus.Attach("sender"), receiver = bus.Attach("receiver");
        for (int i = 0; i < 5; i++) sender.Send(Frame(i));
        var stop = Stopwatch.StartNew();
        bus.Dispose();
        Assert.That(stop.Elapsed, Is.LessThan(TimeSpan.FromSeconds(2)), "not after the queue's half second of frames");
        Assert.That(sender.Send(Frame(9)), Is.EqualTo(CanSendResult.Down));
        Assert.That(receiver.Pending, Is.Zero, "nothing was due yet");
    }

    [Test]
    public void AnUnpacedBusCarriesInSendAndADisposedOneIsDown()
    {
        var bus = new VirtualCanBus("fast");
        using VirtualCanPort sender = bus.Attach("sender"), receiver = bus.Attach("receiver");
        Assert.That(bus.IsPaced, Is.False);
        Assert.That(sender.Send(Frame(1)), Is.EqualTo(CanSendResult.Sent));
        Assert.That(receiver.Pending, Is.EqualTo(1), "before Send returned");
        bus.Dispose();
        Assert.That(sender.Send(Frame(2)), Is.EqualTo(CanSendResult.Down));
    }

    [Test]
    public void BadRatesAreRefusedNamingTheValue()
    {
        Assert.That(() => new VirtualCanBus("b", bitrate: -1), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("bitrate -1"));
        Assert.That(() => new VirtualCanBus("b", dataBitrate: 2_000_000), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("needs a nominal bitrate"));
        Assert.That(() => new VirtualCanBus("b", bitrate: 1_000_000, dataBitrate: 500_000), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("500000"));
        Assert.That(() => new VirtualCanBus("b", bitrate: 1_000_000, transmitQueue: 0), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("transmit queue"));
    }
}

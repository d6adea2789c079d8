using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;

namespace AmpCan.Tests.VirtioCan;

/// <summary>A port's queue (SocketCAN's, the driver's): bounded, in order, with room kept for error frames and more for echoes, one adder and one taker without locks.</summary>
public class CanFrameQueueTests
{
    private static CanFrame Frame(uint id, CanFrameKind kind = CanFrameKind.None) => new() { Id = id, Kind = kind, Length = 4 };

    [Test]
    public void DataFillsTheCapacityErrorsTheirRoomAndEchoesTheRest()
    {
        var q = new CanFrameQueue(capacity: 4, errorRoom: 2, echoRoom: 3);
        for (uint i = 0; i < 4; i++) Assert.That(q.TryAdd(Frame(i)), Is.True);
        Assert.That(q.TryAdd(Frame(99)), Is.False, "a fifth data frame");
        Assert.That(q.TryAdd(Frame(0x40, CanFrameKind.Error)), Is.True);
        Assert.That(q.TryAdd(Frame(0x40, CanFrameKind.Error)), Is.True);
        Assert.That(q.TryAdd(Frame(0x40, CanFrameKind.Error)), Is.False, "a third error frame");
        for (uint i = 0; i < 3; i++) Assert.That(q.TryAdd(Frame(0x500 + i, CanFrameKind.Echo)), Is.True);
        Assert.That(q.TryAdd(Frame(0x600, CanFrameKind.Echo)), Is.False, "a fourth echo");
        Assert.That(q.Count, Is.EqualTo(9));
        uint[] order = [0, 1, 2, 3, 0x40, 0x40, 0x500, 0x501, 0x502];
        foreach (uint id in order)
        {
            Assert.That(q.TryPeek(out CanFrame peeked), Is.True);
            Assert.That(q.TryTake(out CanFrame taken), Is.True);
            Assert.That((peeked.Id, taken.Id), Is.EqualTo((id, id)));
        }
        Assert.That(q.TryTake(out _), Is.False);
        Assert.That(q.TryAdd(Frame(7)), Is.True, "room again once taken");
    }

    [Test]
    public void EchoesAlwaysFindTheirRoomHoweverFullTheDataIs()
    {
        var q = new CanFrameQueue(capacity: 8, errorRoom: 0, echoRoom: 2);
        uint echoesTaken = 0;
        for (int round = 0; round < 1000; round++)
        {
            while (q.TryAdd(Frame(1))) { }
            Assert.That(q.TryAdd(Frame((uint)round, CanFrameKind.Echo)), Is.True);
            Assert.That(q.TryAdd(Frame((uint)round, CanFrameKind.Echo)), Is.True);
            while (q.TryTake(out CanFrame f)) if (f.IsEcho) echoesTaken++;
        }
        Assert.That(echoesTaken, Is.EqualTo(2000u));
    }

    [Test]
    public void OneAdderAndOneTakerOnTwoThreadsLoseAndReorderNothing()
    {
        const int Total = 2_000_000;
        var q = new CanFrameQueue(capacity: 64, errorRoom: 0, echoRoom: 0);
        var adder = Task.Factory.StartNew(() =>
        {
            for (uint i = 0; i < Total;)
            {
                var f = Frame(i);
                f.Payload[0] = (byte)i;
                f.Payload[3] = (byte)(i >> 24);
                if (q.TryAdd(f)) i++;
                else Thread.SpinWait(10);
            }
        }, TaskCreationOptions.LongRunning);
        uint expected = 0;
        while (expected < Total)
        {
            if (!q.TryTake(out CanFrame f))
            {
                Assert.That(adder.IsFaulted, Is.False);
                Thread.SpinWait(10);
                continue;
            }
            if (f.Id != expected || f.Payload[0] != (byte)expected || f.Payload[3] != (byte)(expected >> 24))
                Assert.Fail($"frame {expected}: got id {f.Id}, bytes {f.Payload[0]:x2}/{f.Payload[3]:x2}");
            expected++;
        }
        Assert.That(adder.Wait(10_000), Is.True);
        Assert.That(q.Count, Is.Zero);
    }
}

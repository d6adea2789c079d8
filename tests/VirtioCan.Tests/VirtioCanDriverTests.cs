using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;
using AmpCan.VirtioCan.Wire;
using AmpCan.Vring;

namespace AmpCan.Tests.VirtioCan;

/// <summary>
/// <see cref="VirtioCanDriver"/> and <see cref="VirtioCanDevice"/> on one resource-table vdev, each on its own loop,
/// the device on a virtual bus with one other member: the driver is a CAN port whose frames reach that member and
/// whose receive queue gets that member's frames, as the controller's START, STOP and bus-off allow.
/// </summary>
public class VirtioCanDriverTests
{
    private static readonly ulong Classic = VirtioCanFeatures.Mask(VirtioCanFeatures.CanClassic), Fd = VirtioCanFeatures.Mask(VirtioCanFeatures.CanFd),
        Rtr = VirtioCanFeatures.Mask(VirtioCanFeatures.RtrFrames), LateTxAck = VirtioCanFeatures.Mask(VirtioCanFeatures.LateTxAck),
        EventIdx = VirtioRingFeatures.Bit(VirtioRingFeatures.EventIndex), Indirect = VirtioRingFeatures.Bit(VirtioRingFeatures.IndirectDescriptors);

    private static CanFrame Frame(uint id, CanFrameKind kind, params byte[] data)
    {
        var f = new CanFrame { Id = id, Kind = kind, Length = (byte)data.Length };
        data.CopyTo(f.Payload);
        return f;
    }

    private static byte[] Bytes(int n, int seed) => [.. Enumerable.Range(0, n).Select(i => (byte)(i * 7 + seed))];

    private static void AssertSame(CanFrame got, CanFrame sent, string what)
    {
        Assert.That((got.Id, got.Kind, got.Length), Is.EqualTo((sent.Id, sent.Kind, sent.Length)), what);
        Assert.That(got.Payload.ToArray(), Is.EqualTo(sent.Payload.ToArray()), $"{what}: data");
    }

    private static readonly CanFrame[] EveryKind =
    [
        Frame(0x123, CanFrameKind.None, 0xDE, 0xAD),
        Frame(0x1ABCDE12, CanFrameKind.Extended, Bytes(8, 1)),
        Frame(0x7FF, CanFrameKind.Fd, Bytes(64, 2)),
        Frame(0x1FFFFFFF, CanFrameKind.Extended | CanFrameKind.Fd, Bytes(12, 3)),
        new CanFrame { Id = 0x321, Kind = CanFrameKind.Remote, Length = 3 },
        new CanFrame { Id = 0x1234567, Kind = CanFrameKind.Extended | CanFrameKind.Remote, Length = 0 },
    ];

    [TestCase(true)]
    [TestCase(false)]
    public void OnceStartedFramesOfEveryKindTravelBothWays(bool ringFeatures)
    {
        ulong offered = Classic | Fd | Rtr | (ringFeatures ? EventIdx | Indirect : 0);
        using var pair = new CanVdevPair("can-drv-both", offered);
        pair.Connect(offered);
        Assert.That(pair.Driver.NegotiatedFeatures, Is.EqualTo(offered));
        Assert.That(pair.Driver.Send(EveryKind[0]), Is.EqualTo(CanSendResult.Down), "the controller starts stopped");
        Assert.That(CanVdevPair.Await(pair.Driver.StartAsync(), "START"), Is.True);
        Assert.That(pair.Driver.IsStarted, Is.True);

        foreach (CanFrame f in EveryKind)
        {
            Assert.That(pair.Driver.Send(f), Is.EqualTo(CanSendResult.Sent));
            AssertSame(CanVdevPair.Next(pair.Other, $"0x{f.Id:x} on the bus"), f, $"driver to bus, 0x{f.Id:x}");
        }
        foreach (CanFrame f in EveryKind)
        {
            pair.Other.Send(f);
            AssertSame(CanVdevPair.Next(pair.Driver, $"0x{f.Id:x} at the driver"), f, $"bus to driver, 0x{f.Id:x}");
        }
        CanVdevPair.Until(() => pair.Driver.Counters.TransmitsConfirmed == EveryKind.Length, "every transmit answered OK");
        Assert.That(pair.Driver.Counters.TransmitsFailed, Is.Zero);
        Assert.That(pair.Driver.Counters.MalformedReceives, Is.Zero);
        Assert.That(pair.LoopFaults, Is.Empty);
    }

    [Test]
    public void ManyFramesEachWayKeepTheirOrderAndRecycleEveryBuffer()
    {
        ulong offered = Classic | Fd | EventIdx | Indirect;
        using var pair = new CanVdevPair("can-drv-many", offered, new VirtioCanDriverOptions { MaxTransmitBuffers = 8, MaxReceiveBuffers = 8 });
        pair.Connect(offered);
        Assert.That(CanVdevPair.Await(pair.Driver.StartAsync(), "START"), Is.True);
        const int N = 2000;
        int sent = 0, busy = 0;
        for (int i = 0; i < N; i++)
        {
            CanFrame f = Frame((uint)(i & 0x7FF), CanFrameKind.None, (byte)i, (byte)(i >> 8));
            CanSendResult r;
            while ((r = pair.Driver.Send(f)) == CanSendResult.Busy)
            {
                busy++;
                Thread.Yield();
            }
            Assert.That(r, Is.EqualTo(CanSendResult.Sent));
            sent++;
            CanFrame got = CanVdevPair.Next(pair.Other, $"frame {i} on the bus");
            Assert.That((got.Data[0], got.Data[1]), Is.EqualTo(((byte)i, (byte)(i >> 8))), $"frame {i} in order");
        }
        for (int i = 0; i < N; i++)
        {
            pair.Other.Send(Frame(0x100, CanFrameKind.Fd, Bytes(16, i)));
            CanFrame got = CanVdevPair.Next(pair.Driver, $"frame {i} at the driver");
            Assert.That(got.Payload.ToArray(), Is.EqualTo(Bytes(16, i)), $"frame {i} from the bus");
        }
        Assert.That(sent, Is.EqualTo(N));
        Assert.That(pair.Driver.Counters.Received, Is.EqualTo(N), "8 receive buffers carried 2000 frames: each was posted again");
        CanVdevPair.Until(() => pair.Driver.Counters.TransmitsConfirmed == N, "every transmit answered");
    }

    [Test]
    public void StopMakesSendsDownAndTheBusIsNotHeardUntilTheNextStart()
    {
        ulong offered = Classic | EventIdx;
        using var pair = new CanVdevPair("can-drv-stop", offered);
        VirtioCanDevice device = pair.Connect(offered);
        Assert.That(CanVdevPair.Await(pair.Driver.StartAsync(), "START"), Is.True);
        Assert.That(CanVdevPair.Await(pair.Driver.StopAsync(), "STOP"), Is.True);
        Assert.That(device.IsStarted, Is.False, "the device's controller stopped");
        Assert.That(pair.Driver.Send(Frame(0x10, CanFrameKind.None, 1)), Is.EqualTo(CanSendResult.Down));
        pair.Other.Send(Frame(0x11, CanFrameKind.None, 2));
        CanVdevPair.Until(() => device.Dropped == 1, "the stopped device dropped the bus's frame");
        Assert.That(CanVdevPair.Await(pair.Driver.StartAsync(), "START again"), Is.True);
        pair.Other.Send(Frame(0x12, CanFrameKind.None, 3));
        Assert.That(CanVdevPair.Next(pair.Driver, "the frame after START").Id, Is.EqualTo(0x12u), "the frame sent while stopped never arrives");
        Assert.That(pair.Driver.Send(Frame(0x13, CanFrameKind.None, 4)), Is.EqualTo(CanSendResult.Sent));
        Assert.That(CanVdevPair.Next(pair.Other, "the driver's frame after START").Id, Is.EqualTo(0x13u));
        Assert.That(pair.Other.Pending, Is.Zero, "nothing from the stopped controller reached the bus");
    }

    [Test]
    public void AFrameTheDeviceRefusesIsAnsweredNotOkAndCounted()
    {
        // The table offers RTR, so the driver takes it; the device itself does not, so it refuses RTR frames.
        using var pair = new CanVdevPair("can-drv-notok", Classic | Rtr);
        pair.Connect(Classic);
        Assert.That(pair.Driver.NegotiatedFeatures & Rtr, Is.EqualTo(Rtr));
        Assert.That(CanVdevPair.Await(pair.Driver.StartAsync(), "START"), Is.True);
        Assert.That(pair.Driver.Send(new CanFrame { Id = 0x55, Kind = CanFrameKind.Remote, Length = 2 }), Is.EqualTo(CanSendResult.Sent));
        CanVdevPair.Until(() => pair.Driver.Counters.TransmitsFailed == 1, "the NOT_OK answer");
        Assert.That(pair.Driver.Counters.TransmitsConfirmed, Is.Zero);
        Assert.That(pair.Other.Pending, Is.Zero);
    }

    [Test]
    public void AFrameTheNegotiatedFeaturesCannotCarryIsRefusedBeforeTheRing()
    {
        using var pair = new CanVdevPair("can-drv-carry", Classic);
        pair.Connect(Classic);
        Assert.That(CanVdevPair.Await(pair.Driver.StartAsync(), "START"), Is.True);
        CanFrame fd = Frame(0x10, CanFrameKind.Fd, 1);
        Assert.That(pair.Driver.CanCarry(fd), Is.False);
        Assert.That(() => pair.Driver.Send(fd), Throws.ArgumentException.With.Message.Contains("FdNotNegotiated"));
        Assert.That(() => pair.Driver.Send(CanErrorFrame.BusOff()), Throws.ArgumentException.With.Message.Contains("no error frames"));
        Assert.That(() => pair.Driver.Send(Frame(0x800, CanFrameKind.None)), Throws.ArgumentException.With.Message.Contains("StandardIdOutOfRange"));
        Assert.That(pair.Driver.Send(Frame(0x7FF, CanFrameKind.None, 9)), Is.EqualTo(CanSendResult.Sent), "the port still works");
        Assert.That(CanVdevPair.Next(pair.Other, "the valid frame").Id, Is.EqualTo(0x7FFu));
    }

    [Test]
    public void BusOffArrivesAsAnErrorFrameAndStartRecoversEveryTime()
    {
        ulong offered = Classic | EventIdx;
        using var pair = new CanVdevPair("can-drv-busoff", offered);
        VirtioCanDevice device = pair.Connect(offered);
        for (int round = 1; round <= 2; round++)
        {
            Assert.That(CanVdevPair.Await(pair.Driver.StartAsync(), $"round {round}: START"), Is.True);
            Assert.That(pair.Driver.Send(Frame(0x20, CanFrameKind.None, (byte)round)), Is.EqualTo(CanSendResult.Sent));
            Assert.That(CanVdevPair.Next(pair.Other, $"round {round}: a frame before bus-off").Data[0], Is.EqualTo(round));
            device.ReportBusOff();
            CanFrame error = CanVdevPair.Next(pair.Driver, $"round {round}: the bus-off error frame");
            Assert.That((error.Kind, error.Id, error.Length), Is.EqualTo((CanFrameKind.Error, 0x40u, (byte)8)), "SocketCAN's CAN_ERR_BUSOFF, CAN_ERR_DLC");
            Assert.That(pair.Driver.IsStarted, Is.False, $"round {round}: bus-off stopped the controller");
            Assert.That(pair.Driver.Send(Frame(0x21, CanFrameKind.None)), Is.EqualTo(CanSendResult.Down));
            Assert.That(pair.Driver.Counters.BusOffs, Is.EqualTo(round));
        }
        Assert.That(CanVdevPair.Await(pair.Driver.StartAsync(), "START after the second bus-off"), Is.True);
        Assert.That(pair.Driver.Send(Frame(0x22, CanFrameKind.None, 7)), Is.EqualTo(CanSendResult.Sent));
        Assert.That(CanVdevPair.Next(pair.Other, "a frame after recovery").Id, Is.EqualTo(0x22u));
        Assert.That(pair.Driver.Pending, Is.Zero, "one error frame per bus-off, no more");
    }

    [Test]
    public void WithLateTxAckAnOkAnswerBringsTheEchoAndNotOkNone()
    {
        ulong offered = Classic | Rtr | LateTxAck | EventIdx;
        using var pair = new CanVdevPair("can-drv-late", offered);
        pair.Driver.ConfirmsTransmits = true;
        pair.Connect((VirtioCanDevice.DefaultFeatures | LateTxAck) & ~Rtr); // the device refuses RTR frames: a NOT_OK to see
        Assert.That(pair.Driver.LateTxAck, Is.True, "LATE_TX_ACK negotiated");
        Assert.That(CanVdevPair.Await(pair.Driver.StartAsync(), "START"), Is.True);
        CanFrame data = Frame(0x1F, CanFrameKind.None, 1, 2, 3);
        Assert.That(pair.Driver.Send(new CanFrame { Id = 0x1E, Kind = CanFrameKind.Remote, Length = 1 }), Is.EqualTo(CanSendResult.Sent));
        Assert.That(pair.Driver.Send(data), Is.EqualTo(CanSendResult.Sent));
        CanFrame echo = CanVdevPair.Next(pair.Driver, "the echo");
        Assert.That(echo.IsEcho, Is.True);
        Assert.That(echo.SameOnWire(data), Is.True, "the echo is the frame the bus carried, not the refused one");
        AssertSame(CanVdevPair.Next(pair.Other, "the frame on the bus"), data, "on the bus");
        Assert.That(pair.Driver.Counters.TransmitsFailed, Is.EqualTo(1));
        Assert.That(pair.Driver.Counters.TransmitsConfirmed, Is.EqualTo(1));
        Assert.That(pair.Driver.Pending, Is.Zero, "no echo for the NOT_OK");
    }

    [Test]
    public void SendersOnManyThreadsShareTheTransmitSlots()
    {
        ulong offered = Classic | EventIdx | Indirect;
        using var pair = new CanVdevPair("can-drv-threads", offered, new VirtioCanDriverOptions { MaxTransmitBuffers = 4 });
        pair.Connect(offered);
        pair.Other.Dispose();
        VirtualCanPort listener = pair.Bus.Attach("listener", capacity: 4096);
        Assert.That(CanVdevPair.Await(pair.Driver.StartAsync(), "START"), Is.True);
        const int Threads = 4, PerThread = 500;
        Task[] senders = [.. Enumerable.Range(0, Threads).Select(t => Task.Run(() =>
        {
            for (int i = 0; i < PerThread; i++)
            {
                CanFrame f = Frame((uint)t, CanFrameKind.None, (byte)i, (byte)(i >> 8));
                while (pair.Driver.Send(f) == CanSendResult.Busy) Thread.Yield();
            }
        }))];
        Assert.That(Task.WaitAll(senders, CanVdevPair.Patience), Is.True, "every sender finished");
        var next = new int[Threads];
        for (int n = 0; n < Threads * PerThread; n++)
        {
            CanFrame f = CanVdevPair.Next(listener, $"frame {n}");
            int i = f.Data[0] | (f.Data[1] << 8);
            Assert.That(i, Is.EqualTo(next[f.Id]), $"sender {f.Id}'s frames in its order");
            next[f.Id]++;
        }
        CanVdevPair.Until(() => pair.Driver.Counters.TransmitsConfirmed == Threads * PerThread, "every transmit answered");
    }

    [TestCase(true)]
    [TestCase(false)]
    public void SendingAndTakingFramesAllocatesNothingOnTheCallersThreadOrTheDriversLoop(bool indirect)
    {
        ulong offered = Classic | Fd | EventIdx | (indirect ? Indirect : 0);
        using var pair = new CanVdevPair("can-drv-alloc", offered);
        pair.Connect(offered);
        Assert.That(CanVdevPair.Await(pair.Driver.StartAsync(), "START"), Is.True);
        var loop = new LoopAllocationProbe(pair.DriverLoop);
        CanFrame frame = Frame(0x123, CanFrameKind.Fd, Bytes(64, 5));
        // Code not yet optimised by the JIT allocates now and then (tier-0 code, for its first hundred calls or so):
        // the steady state is what counts, so blocks of round trips are measured until one allocates nothing. A real
        // allocation per frame never gets there.
        const int Block = 100, Blocks = 10;
        RoundTrips(pair, frame, Block);
        long caller = 0, onLoop = 0;
        for (int b = 0; b < Blocks; b++)
        {
            long loopBefore = loop.Sample();
            long before = GC.GetAllocatedBytesForCurrentThread();
            RoundTrips(pair, frame, Block);
            caller = GC.GetAllocatedBytesForCurrentThread() - before;
            onLoop = loop.Sample() - loopBefore;
            if (caller == 0 && onLoop == 0) return;
        }
        Assert.Fail($"after {Blocks} blocks of {Block} round trips the last still allocated {caller} bytes on the caller's thread and {onLoop} on the driver's loop");
    }

    // Sends each frame through the driver to the other member and back, checking each came back; allocates nothing itself.
    private static void RoundTrips(CanVdevPair pair, CanFrame frame, int count)
    {
        for (int i = 0; i < count; i++)
        {
            long deadline = Environment.TickCount64 + (long)CanVdevPair.Patience.TotalMilliseconds;
            frame.Data[0] = (byte)i;
            while (pair.Driver.Send(frame) == CanSendResult.Busy) Within(deadline);
            CanFrame got;
            while (!pair.Other.TryReceive(out got)) Within(deadline);
            pair.Other.Send(got);
            while (!pair.Driver.TryReceive(out got)) Within(deadline);
            if (got.Data[0] != (byte)i) Assert.Fail($"round trip {i} brought back frame {got.Data[0]}");
        }
    }

    private static void Within(long deadline)
    {
        if (Environment.TickCount64 > deadline) Assert.Fail($"a round trip took more than {CanVdevPair.Patience.TotalSeconds} s");
        Thread.Yield();
    }
}

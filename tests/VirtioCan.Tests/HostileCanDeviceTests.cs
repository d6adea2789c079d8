using System.Buffers.Binary;
using AmpCan.Remoteproc;
using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;
using AmpCan.VirtioCan.Wire;
using AmpCan.Vring;
using AmpCan.Vring.Wire;

namespace AmpCan.Tests.VirtioCan;

/// <summary>
/// <see cref="VirtioCanDriver"/> against a device the test plays by hand on the other side of the vdev: the bytes the
/// driver puts on each queue, and what it makes of answers and receive buffers a device got wrong (dropped and
/// counted), of a broken ring (the driver gives the device up, nothing throws), of a device that never answers.
/// </summary>
public class HostileCanDeviceTests
{
    private static readonly ulong Classic = VirtioCanFeatures.Mask(VirtioCanFeatures.CanClassic), Rtr = VirtioCanFeatures.Mask(VirtioCanFeatures.RtrFrames);

    /// <summary>The device side of the vdev's three queues, driven from the test's thread.</summary>
    private sealed class HandDevice
    {
        private readonly CanVdevPair _pair;
        public readonly VirtioDeviceContext Context;
        public readonly SplitVirtqueueDevice[] Queues;

        public HandDevice(CanVdevPair pair, ulong features)
        {
            _pair = pair;
            pair.ProbeDriver();
            Context = pair.DeviceTransport.WaitForDriver(features, pair.DeviceLoop, CanVdevPair.Patience)
                ?? throw new AssertionException("no DRIVER_OK");
            Queues = [.. Enumerable.Range(0, 3).Select(Context.CreateQueue)];
        }

        public DescriptorChain Pop(int q)
        {
            DescriptorChain chain = default;
            CanVdevPair.Until(() => Queues[q].TryPop(out chain), $"a request on queue {q}");
            return chain;
        }

        public byte[] Readable(in DescriptorChain chain)
        {
            Assert.That(chain.Readable.Length, Is.EqualTo(1), "one device-readable buffer");
            return chain.Readable[0].Span.ToArray();
        }

        // A chain's head and its one answer byte, kept past the next pop (a chain's segments are the queue's scratch).
        public (ushort Head, BufferSegment Answer) Request(in DescriptorChain chain)
        {
            Assert.That((chain.Writable.Length, chain.Writable[0].Length), Is.EqualTo((1, 1u)), "one device-writable answer byte");
            return (chain.Head, chain.Writable[0]);
        }

        // Writes the answer byte (if any) and returns the chain with the used length given.
        public void Answer(int q, (ushort Head, BufferSegment Answer) request, byte? answer, uint usedLength)
        {
            if (answer is byte b) request.Answer.Span[0] = b;
            Return(q, request.Head, usedLength);
        }

        public void Answer(int q, in DescriptorChain chain, byte? answer, uint usedLength) => Answer(q, Request(chain), answer, usedLength);

        public void Return(int q, ushort head, uint usedLength)
        {
            Queues[q].AddUsed(head, usedLength);
            Queues[q].PublishUsed();
            _pair.DeviceBell.Ring();
        }

        public void StartController()
        {
            Task<bool> start = _pair.Driver.StartAsync();
            DescriptorChain chain = Pop(VirtioCanIds.ControlQueue);
            Assert.That(Readable(chain), Is.EqualTo(new byte[] { 0x01, 0x02 }), "START: le16 0x0201");
            Answer(VirtioCanIds.ControlQueue, chain, 0, 1);
            Assert.That(CanVdevPair.Await(start, "START"), Is.True);
        }
    }

    private static byte[] Rx(uint canId, uint flags, int length, int dataBytes, ushort type = 0x0101)
    {
        byte[] m = new byte[16 + dataBytes];
        BinaryPrimitives.WriteUInt16LittleEndian(m, type);
        BinaryPrimitives.WriteUInt16LittleEndian(m.AsSpan(2), (ushort)length);
        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(8), flags);
        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(12), canId);
        for (int i = 0; i < dataBytes; i++) m[16 + i] = (byte)(0xA0 + i);
        return m;
    }

    [Test]
    public void TheDriverWritesRequestsAsTheSpecLaysThemOut()
    {
        using var pair = new CanVdevPair("can-hand-wire", Classic | Rtr);
        var device = new HandDevice(pair, Classic | Rtr);
        device.StartController();
        var data = new CanFrame { Id = 0x123, Length = 2 };
        data.Data[0] = 1;
        data.Data[1] = 2;
        Assert.That(pair.Driver.Send(data), Is.EqualTo(CanSendResult.Sent));
        Assert.That(device.Readable(device.Pop(0)), Is.EqualTo(new byte[] { 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x23, 0x01, 0, 0, 1, 2 }),
            "TX 0x0001, length 2, reserved 0, flags 0, can_id 0x123, the data");
        Assert.That(pair.Driver.Send(new CanFrame { Id = 0x1ABCDE12, Kind = CanFrameKind.Extended | CanFrameKind.Remote, Length = 3 }), Is.EqualTo(CanSendResult.Sent));
        Assert.That(device.Readable(device.Pop(0)), Is.EqualTo(new byte[] { 0x01, 0, 3, 0, 0, 0, 0, 0, 0x00, 0xA0, 0, 0, 0x12, 0xDE, 0xBC, 0x1A, 0, 0, 0 }),
            "an extended RTR: flags EXTENDED|RTR, then length zero bytes as Linux's driver sends them");
        Task<bool> stop = pair.Driver.StopAsync();
        Assert.That(device.Readable(device.Pop(VirtioCanIds.ControlQueue)), Is.EqualTo(new byte[] { 0x02, 0x02 }), "STOP: le16 0x0202");
        Assert.That(stop.IsCompleted, Is.False, "STOP completes with the device's answer, not before");
    }

    [Test]
    public void OnlyAnOkAnswerByteCountsAsOkAndOnlyItBringsTheEcho()
    {
        using var pair = new CanVdevPair("can-hand-answers", Classic);
        pair.Driver.ConfirmsTransmits = true;
        var device = new HandDevice(pair, Classic);
        device.StartController();
        for (byte i = 0; i < 4; i++) Assert.That(pair.Driver.Send(new CanFrame { Id = 0x40u + i, Length = 1 }), Is.EqualTo(CanSendResult.Sent));
        var chains = Enumerable.Range(0, 4).Select(_ => device.Request(device.Pop(0))).ToArray();
        device.Answer(0, chains[0], 1, 1);    // NOT_OK
        device.Answer(0, chains[1], 7, 1);    // a value the spec does not define: NOT_OK
        device.Answer(0, chains[2], 0, 0);    // no answer written (used length 0), though the byte says OK
        device.Answer(0, chains[3], 0, 1);    // OK
        CanFrame echo = CanVdevPair.Next(pair.Driver, "the one echo");
        Assert.That((echo.Id, echo.IsEcho), Is.EqualTo((0x43u, true)));
        CanVdevPair.Until(() => pair.Driver.Counters.TransmitsFailed == 3, "three failures counted");
        Assert.That(pair.Driver.Counters.TransmitsConfirmed, Is.EqualTo(1));
        Assert.That(pair.Driver.Pending, Is.Zero);
    }

    [Test]
    public void ReceiveBuffersTheDeviceFilledWronglyAreDroppedCountedAndPostedAgain()
    {
        using var pair = new CanVdevPair("can-hand-rx", Classic);
        var device = new HandDevice(pair, Classic);
        device.StartController();
        (byte[] Bytes, uint Used, string Why)[] bad =
        [
            (Rx(0x10, 0, 0, 0), 0, "used length 0"),
            (Rx(0x10, 0, 0, 0), 10, "shorter than the header"),
            (Rx(0x10, 0, 1, 1, type: 0x0001), 17, "msg_type TX, not RX"),
            (Rx(0x10, 0x1, 0, 0), 16, "an undefined flag"),
            (Rx(0x800, 0, 0, 0), 16, "an 11-bit identifier past 0x7FF"),
            (Rx(0x2000_0000, 0x8000, 0, 0), 16, "a 29-bit identifier past 0x1FFFFFFF"),
            (Rx(0x10, 0, 9, 9), 25, "a classic frame of 9 bytes"),
            (Rx(0x10, 0x4000, 8, 8), 24, "an FD frame, FD not negotiated"),
            (Rx(0x10, 0x2000, 0, 0), 16, "an RTR frame, RTR not negotiated"),
            (Rx(0x10, 0, 8, 8), 18, "fewer bytes than its length"),
        ];
        foreach ((byte[] bytes, uint used, string why) in bad)
        {
            DescriptorChain chain = device.Pop(VirtioCanIds.RxQueue);
            Assert.That(chain.Writable[0].Length, Is.EqualTo(80u), "16 + 64-byte receive buffers");
            bytes.CopyTo(chain.Writable[0].Span);
            device.Return(VirtioCanIds.RxQueue, chain.Head, used);
        }
        // A good frame whose used length claims far more than the buffer: the ring clamps it, the frame is fine.
        DescriptorChain good = device.Pop(VirtioCanIds.RxQueue);
        Rx(0x7FF, 0, 3, 3).CopyTo(good.Writable[0].Span);
        device.Return(VirtioCanIds.RxQueue, good.Head, uint.MaxValue);
        CanFrame frame = CanVdevPair.Next(pair.Driver, "the good frame");
        Assert.That((frame.Id, frame.Kind, frame.Payload.ToArray()), Is.EqualTo((0x7FFu, CanFrameKind.None, new byte[] { 0xA0, 0xA1, 0xA2 })));
        Assert.That(pair.Driver.Counters.MalformedReceives, Is.EqualTo(bad.Length), "every bad buffer counted");
        Assert.That(pair.Driver.Pending, Is.Zero, "and none delivered");
        int posted = 0;
        CanVdevPair.Until(() =>
        {
            while (device.Queues[VirtioCanIds.RxQueue].TryPop(out _)) posted++;
            return posted == pair.QueueSize;
        }, "every receive buffer posted again");
        Assert.That(pair.Driver.Fault, Is.Null);
        Assert.That(pair.LoopFaults, Is.Empty);
    }

    [Test]
    public void ABrokenRingCostsTheDeviceNotTheProcess()
    {
        using var pair = new CanVdevPair("can-hand-ring", Classic);
        var device = new HandDevice(pair, Classic);
        device.StartController();
        // A used entry naming descriptor 200 of a 64-entry ring, written past the queue's checks.
        SplitRing rx = device.Context.Queues[VirtioCanIds.RxQueue].Ring;
        ushort index = rx.Used.ReadU16(SplitRingOffsets.Index);
        rx.Used.WriteU32(SplitRingOffsets.UsedEntry(index % pair.QueueSize), 200);
        rx.Used.WriteU32(SplitRingOffsets.UsedEntry(index % pair.QueueSize) + 4, 16);
        rx.Used.WriteU16Release(SplitRingOffsets.Index, (ushort)(index + 1));
        pair.DeviceBell.Ring();
        CanVdevPair.Until(() => pair.Driver.Fault is not null, "the driver saw the broken ring");
        Assert.That(pair.Driver.Fault, Is.InstanceOf<VirtqueueException>());
        Assert.That(pair.Vdev.Status & VirtioStatus.Failed, Is.EqualTo(VirtioStatus.Failed), "FAILED set, as Linux's virtio core does");
        Assert.That(pair.Driver.Send(new CanFrame { Id = 1 }), Is.EqualTo(CanSendResult.Down));
        Assert.That(CanVdevPair.Await(pair.Driver.StartAsync(), "START on a failed device"), Is.False);
        Assert.That(pair.LoopFaults, Is.Empty, "the driver's handler caught it; the loop lost nothing");
    }

    [Test]
    public void ADeviceThatNeverAnswersCostsAWaitThatCanBeCancelledAndEndsWithTheDriver()
    {
        using var pair = new CanVdevPair("can-hand-silent", Classic);
        var device = new HandDevice(pair, Classic);
        using var cancel = new CancellationTokenSource();
        Task<bool> start = pair.Driver.StartAsync(cancel.Token);
        device.Pop(VirtioCanIds.ControlQueue);
        cancel.Cancel();
        Assert.That(() => start.Wait(CanVdevPair.Patience), Throws.InstanceOf<AggregateException>().With.InnerException.InstanceOf<TaskCanceledException>());
        Task<bool> stop = pair.Driver.StopAsync();
        Assert.That(pair.Driver.Send(new CanFrame { Id = 1 }), Is.EqualTo(CanSendResult.Down), "stopped from the moment STOP was asked");
        pair.Driver.Dispose();
        Assert.That(CanVdevPair.Await(stop, "STOP once the driver is gone"), Is.False);
        Assert.That(pair.Vdev.Status, Is.EqualTo(VirtioStatus.Reset), "the driver reset the device, as Linux's remove");
    }

    [Test]
    public void AStartTheDeviceRefusesLeavesTheControllerStopped()
    {
        using var pair = new CanVdevPair("can-hand-refuse", Classic);
        var device = new HandDevice(pair, Classic);
        Task<bool> start = pair.Driver.StartAsync();
        device.Answer(VirtioCanIds.ControlQueue, device.Pop(VirtioCanIds.ControlQueue), 1, 1);
        Assert.That(CanVdevPair.Await(start, "START"), Is.False);
        Assert.That(pair.Driver.IsStarted, Is.False);
        Assert.That(pair.Driver.Send(new CanFrame { Id = 1 }), Is.EqualTo(CanSendResult.Down));
    }
}

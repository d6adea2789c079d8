using System.Buffers.Binary;
using AmpCan.Remoteproc;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;
using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;
using AmpCan.Vring;

namespace AmpCan.Tests.VirtioCan;

/// <summary>
/// The virtio-can device on a resource-table vdev with three vrings (which Linux's remoteproc cannot carry, AmpCan's
/// can), driven from the other side by hand the way Linux's virtio_can driver drives it: requests of 16 + length
/// device-readable bytes and a one-byte answer, receive buffers of 16 + 64 bytes, START and STOP on the control queue.
/// </summary>
public class VirtioCanDeviceTests
{
    private const ulong Base = 0x3000_0000;
    private const int QueueSize = 64;

    /// <summary>The device and, on the driver's side, three queues and a buffer area, over one memfd.</summary>
    internal sealed class CanLink : IDisposable
    {
        public readonly MappedRegion Shm = MappedRegion.CreateMemfd("can-link", 0x80000, Base);
        public readonly VirtualCanBus Bus = new("vcan");
        public readonly VirtualCanPort Other;
        public readonly VirtioCanDevice Device;
        public readonly SplitVirtqueueDriver[] Queues = new SplitVirtqueueDriver[3];
        private readonly EventFdDoorbell _driverBell, _deviceBell;
        private readonly NotificationLoop _loop = new("can-device", NotificationMode.Adaptive);
        private readonly MemoryMap _memory;
        private int _nextBuffer;

        public CanLink(ulong driverFeatures, ICanPort? devicePort = null)
        {
            _memory = new MemoryMap(Shm.Io);
            VringSpec[] rings = [.. Enumerable.Range(0, 3).Select(i => new VringSpec((uint)(Base + 0x4000 + (ulong)i * 0x4000), 0x1000, QueueSize, (uint)i))];
            Shm.Io.Write(0, new ResourceTableBuilder().Vdev(36, 0, (uint)VirtioCanDevice.DefaultFeatures, rings, new byte[2]).Build());
            VdevResource vdev = ResourceTable.Parse(Shm.Io.Slice(0, 0x1000)).Vdevs[0];
            for (int i = 0; i < 3; i++)
                Queues[i] = new SplitVirtqueueDriver(SplitRing.Legacy(_memory, Base + 0x4000 + (ulong)i * 0x4000, QueueSize, 0x1000), eventIndex: false);
            (_driverBell, _deviceBell) = EventFdDoorbell.CreatePair();
            Other = Bus.Attach("other");
            Device = new VirtioCanDevice("can0", devicePort ?? Bus.Attach("can0"));
            vdev.DriverFeatures = driverFeatures;
            vdev.Status = VirtioStatus.Acknowledge | VirtioStatus.Driver | VirtioStatus.FeaturesOk | VirtioStatus.DriverOk;
            _loop.Start();
            Assert.That(new VdevTransport(vdev, _memory, _deviceBell).ActivateDevice(Device, _loop, TimeSpan.FromSeconds(10)), Is.True);
        }

        private ulong Buffer(out IoRegion region)
        {
            ulong at = Base + 0x20000 + (ulong)(_nextBuffer++ % 512) * 128;
            region = _memory.Window(at, 128);
            return at;
        }

        // Adds a request (readable bytes + a one-byte answer) on queue q and waits for the device's answer.
        public byte Request(int q, ReadOnlySpan<byte> message)
        {
            ulong req = Buffer(out IoRegion r);
            r.Write(0, message);
            ulong ans = Buffer(out IoRegion a);
            a.WriteU8(0, 0xEE);
            Assert.That(Queues[q].TryAdd([new VirtqBuffer(req, (uint)message.Length)], [new VirtqBuffer(ans, 1)], token: 1), Is.True);
            Kick(q);
            UsedBuffer used = WaitUsed(q);
            Assert.That(used.Length, Is.EqualTo(1u), "one answer byte");
            return a.ReadU8(0);
        }

        // Adds a transmit request without waiting; returns where its one-byte answer will be (0xEE until answered).
        public IoRegion Submit(ReadOnlySpan<byte> message, int token)
        {
            ulong req = Buffer(out IoRegion r);
            r.Write(0, message);
            ulong ans = Buffer(out IoRegion a);
            a.WriteU8(0, 0xEE);
            Assert.That(Queues[0].TryAdd([new VirtqBuffer(req, (uint)message.Length)], [new VirtqBuffer(ans, 1)], token: token), Is.True);
            Kick(0);
            return a;
        }

        // The config bytes in the vdev's table entry: what a driver of a resource-table vdev reads.
        public byte[] TableConfig()
        {
            byte[] config = new byte[2];
            ResourceTable.Parse(Shm.Io.Slice(0, 0x1000)).Vdevs[0].ReadConfig(0, config);
            return config;
        }

        public void PostReceiveBuffers(int count)
        {
            for (int i = 0; i < count; i++)
            {
                ulong at = Buffer(out _);
                Assert.That(Queues[1].TryAdd(new VirtqBuffer(at, 16 + 64), deviceWritable: true, token: (int)(at - Base)), Is.True);
            }
            Kick(1);
        }

        public byte[] Received()
        {
            UsedBuffer u = WaitUsed(1);
            byte[] got = new byte[u.Length];
            _memory.Window(Base + (ulong)u.Token, 128).Read(0, got);
            return got;
        }

        private void Kick(int q)
        {
            Queues[q].Publish();
            _driverBell.Ring((uint)q);
        }

        public UsedBuffer WaitUsed(int q)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(10))
            {
                if (Queues[q].TryGetUsed(out UsedBuffer u)) return u;
                Thread.Yield();
            }
            throw new AssertionException($"queue {q}: the device answered nothing within 10 s");
        }

        public void Dispose()
        {
            Device.Reset();
            _loop.Dispose();
            _driverBell.Dispose();
            _deviceBell.Dispose();
            Shm.Dispose();
        }
    }

    private static readonly ulong Classic = 1UL << 0, Fd = 1UL << 1, Rtr = 1UL << 2;
    internal static readonly ulong ClassicFeature = Classic;

    internal static byte[] TxMessage(uint canId, uint flags, params byte[] data) => Tx(canId, flags, data);

    private static byte[] Tx(uint canId, uint flags, params byte[] data)
    {
        byte[] m = new byte[16 + data.Length];
        BinaryPrimitives.WriteUInt16LittleEndian(m, 0x0001);
        BinaryPrimitives.WriteUInt16LittleEndian(m.AsSpan(2), (ushort)data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(8), flags);
        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(12), canId);
        data.CopyTo(m, 16);
        return m;
    }

    private static readonly byte[] Start = [0x01, 0x02], Stop = [0x02, 0x02];
    internal static byte[] StartRequest => Start;
    internal static byte[] StopRequest => Stop;

    private static CanFrame WaitFrame(VirtualCanPort port)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            if (port.TryReceive(out CanFrame f)) return f;
            Thread.Yield();
        }
        throw new AssertionException("no frame reached the other member within 10 s");
    }

    [Test]
    public void AStartedControllerPutsValidFramesOnTheBusAndAnswersInvalidOnesNotOk()
    {
        using var link = new CanLink(Classic | Fd);
        Assert.That(link.Request(0, Tx(0x123, 0, 0xDE, 0xAD)), Is.EqualTo(1), "NOT_OK: the controller starts stopped");
        Assert.That(link.Request(2, Start), Is.EqualTo(0), "START: OK");
        Assert.That(link.Request(0, Tx(0x123, 0, 0xDE, 0xAD)), Is.EqualTo(0));
        CanFrame f = WaitFrame(link.Other);
        Assert.That((f.Id, f.Kind, f.Payload.ToArray()), Is.EqualTo((0x123u, CanFrameKind.None, new byte[] { 0xDE, 0xAD })));
        Assert.That(link.Request(0, Tx(0x1ABCDE12, 0x8000 | 0x4000, new byte[12])), Is.EqualTo(0), "an extended FD frame of 12 bytes");
        Assert.That(WaitFrame(link.Other).Kind, Is.EqualTo(CanFrameKind.Extended | CanFrameKind.Fd));
        Assert.That(link.Request(0, Tx(0x800, 0, 1)), Is.EqualTo(1), "an 11-bit identifier past 0x7FF");
        Assert.That(link.Request(0, Tx(0x100, 0x2000)), Is.EqualTo(1), "RTR was not negotiated");
        Assert.That(link.Request(0, Tx(0x100, 0, new byte[9])), Is.EqualTo(1), "a classic frame of 9 bytes");
        Assert.That(link.Request(2, Stop), Is.EqualTo(0));
        Assert.That(link.Request(0, Tx(0x123, 0, 1)), Is.EqualTo(1), "stopped again");
        Assert.That(link.Other.Pending, Is.Zero, "nothing answered NOT_OK reached the bus");
        Assert.That(link.Device.Rejected, Is.EqualTo(5));
    }

    [Test]
    public void FramesFromTheBusArriveInTheDriversBuffersAsHeaderAndData()
    {
        using var link = new CanLink(Classic | Fd | Rtr);
        link.PostReceiveBuffers(8);
        Assert.That(link.Request(2, Start), Is.EqualTo(0));
        var data = new CanFrame { Id = 0x321, Length = 3 };
        new byte[] { 1, 2, 3 }.CopyTo(data.Payload);
        link.Other.Send(data);
        Assert.That(link.Received(), Is.EqualTo(new byte[] { 0x01, 0x01, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x21, 0x03, 0, 0, 1, 2, 3 }),
            "RX 0x0101, length 3, flags 0, can_id 0x321, then the data; used length 16 + 3");
        link.Other.Send(new CanFrame { Id = 0x1234567, Kind = CanFrameKind.Extended | CanFrameKind.Remote, Length = 2 });
        Assert.That(link.Received(), Is.EqualTo(new byte[] { 0x01, 0x01, 2, 0, 0, 0, 0, 0, 0x00, 0xA0, 0, 0, 0x67, 0x45, 0x23, 0x01, 0, 0 }),
            "an extended RTR frame: flags EXTENDED|RTR, then length zero bytes as Linux's driver needs");
    }

    [Test]
    public void AStoppedControllerDropsWhatTheBusCarriesAndFramesWaitForBuffers()
    {
        using var link = new CanLink(Classic);
        link.Other.Send(new CanFrame { Id = 1 });
        Assert.That(link.Request(2, Stop), Is.EqualTo(0), "a control request makes the device look at the bus too");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (link.Device.Dropped == 0 && clock.Elapsed < TimeSpan.FromSeconds(10)) Thread.Yield();
        Assert.That(link.Device.Dropped, Is.EqualTo(1), "stopped: the frame is not kept for later");
        Assert.That(link.Request(2, Start), Is.EqualTo(0));
        link.Other.Send(new CanFrame { Id = 2, Length = 1 });
        Assert.That(link.Queues[1].TryGetUsed(out _), Is.False, "no buffer posted yet");
        link.PostReceiveBuffers(1);
        Assert.That(link.Received()[12], Is.EqualTo(2), "the frame waited in the port for the buffer");
    }

    [Test]
    public void BusOffStopsTheControllerSetsTheStatusBitAndStartRecovers()
    {
        using var link = new CanLink(Classic);
        Assert.That(link.Request(2, Start), Is.EqualTo(0));
        link.Device.ReportBusOff();
        byte[] status = new byte[2];
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (status[0] != 1 && clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            Thread.Yield();
            link.Device.ReadConfig(0, status);
        }
        Assert.That(status, Is.EqualTo(new byte[] { 1, 0 }), "le16 status: BUSOFF is bit 0");
        Assert.That(link.TableConfig(), Is.EqualTo(new byte[] { 1, 0 }), "the vdev transport copied it into the table's config before notifying");
        Assert.That(link.Device.IsStarted, Is.False);
        Assert.That(link.Request(0, Tx(0x123, 0, 1)), Is.EqualTo(1), "a bus-off controller sends nothing");
        Assert.That(link.Request(2, Start), Is.EqualTo(0));
        link.Device.ReadConfig(0, status);
        Assert.That(status, Is.EqualTo(new byte[] { 0, 0 }), "START cleared it");
        Assert.That(link.Request(0, Tx(0x123, 0, 1)), Is.EqualTo(0));
    }
}

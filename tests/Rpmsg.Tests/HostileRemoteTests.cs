using System.Text;
using AmpCan.Remoteproc;
using AmpCan.Rpmsg;
using AmpCan.Rpmsg.Wire;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Vring;
using AmpCan.Vring.Wire;
using Microsoft.Extensions.Logging;

namespace AmpCan.Tests.Rpmsg;

/// <summary>The hostile-remote findings of the hardening review, each as the remote would do it: through the rings and the doorbell.</summary>
public class HostileRemoteTests
{
    private static byte[] Ns(string name, uint addr, NameServiceFlags flags)
    {
        byte[] b = new byte[NameServiceMessage.Size];
        new NameServiceMessage(name, addr, flags).Write(b);
        return b;
    }

    [Test]
    public void TenThousandAnnouncementPairsCostABoundedNumberOfLogLines()
    {
        var logs = new CapturingLoggerFactory();
        using var link = new RpmsgLink(hostLogger: logs.CreateLogger("host"));
        using RpmsgEndpoint evil = link.Remote.CreateEndpoint("evil", null, address: 0x700);
        for (int i = 0; i < 10_000; i++)
        {
            evil.SendTo(RpmsgAddress.NameService, Ns($"svc{i % 7}", 0x700, NameServiceFlags.Create));
            evil.SendTo(RpmsgAddress.NameService, Ns($"svc{i % 7}", 0x700, NameServiceFlags.Destroy));
        }
        BusTests.WaitUntil(() => link.Host.Statistics.MessagesReceived >= 20_000, "the 20 000 announcements");
        Assert.That(link.Host.Channels, Is.Empty);
        // The old code wrote 40 000 lines here. Ten per five seconds each for announcements and faults, per second of test.
        Assert.That(logs.Lines.Count, Is.LessThan(100), $"{logs.Lines.Count} lines for one flood");
        Assert.That(logs.Lines.Count(l => l.Text.Contains("announced") || l.Text.Contains("withdrawn")), Is.EqualTo(10), "the first ten of a burst are logged, the rest counted");
    }

    [Test]
    public void PeerTextReachesTheLogEscaped()
    {
        var logs = new CapturingLoggerFactory();
        using var link = new RpmsgLink(hostLogger: logs.CreateLogger("host"));
        using RpmsgEndpoint evil = link.Remote.CreateEndpoint("evil", null, address: 0x700);
        evil.SendTo(RpmsgAddress.NameService, Ns("\u001b[2J\nforged", 0x700, NameServiceFlags.Create));
        BusTests.WaitUntil(() => logs.Lines.Any(l => l.Text.Contains("announced")), "the channel's log line");
        string line = logs.Lines.Single(l => l.Text.Contains("announced")).Text;
        Assert.That(line, Does.Contain(@"\x1b[2J\nforged").And.Not.Contain("\u001b").And.Not.Contain("\n"));
    }

    [Test]
    public void ReleasingAHeldBufferAfterTheDeviceIsGoneWritesIntoNoReusedDescriptor()
    {
        var link = new RpmsgLink();
        RpmsgHeldBuffer? held = null;
        using var got = new ManualResetEventSlim();
        RpmsgEndpoint keeper = link.Host.CreateEndpoint("keeper", (in RpmsgReceivedMessage m) => { held = m.Hold(); got.Set(); }, address: 0x600);
        using (RpmsgEndpoint talker = link.Remote.CreateEndpoint("talker", null, destination: 0x600)) talker.Send("keep me"u8);
        Assert.That(got.Wait(TimeSpan.FromSeconds(20)), Is.True);
        link.Dispose(); // the board goes away with the buffer still held
        string dir = Directory.CreateTempSubdirectory("ampcan-held-").FullName;
        var files = Enumerable.Range(0, 12).Select(i => new FileStream(Path.Combine(dir, $"f{i}"), FileMode.CreateNew, FileAccess.ReadWrite)).ToList();
        try
        {
            held!.Value.Release();
            foreach (FileStream f in files)
                Assert.That(new FileInfo(f.Name).Length, Is.Zero, "the released buffer's wake-up went nowhere");
        }
        finally
        {
            foreach (FileStream f in files) f.Dispose();
            Directory.Delete(dir, true);
        }
        Assert.That(keeper.IsDestroyed, Is.True);
    }

    [Test]
    public void NoCallbackRunsAfterDisposeReturns()
    {
        using var link = new RpmsgLink();
        using var inCallback = new ManualResetEventSlim();
        using var gate = new ManualResetEventSlim();
        int calls = 0;
        RpmsgEndpoint ep = link.Host.CreateEndpoint("slow", (in RpmsgReceivedMessage m) =>
        {
            Interlocked.Increment(ref calls);
            inCallback.Set();
            gate.Wait(TimeSpan.FromSeconds(20));
        }, address: 0x600);
        using RpmsgEndpoint talker = link.Remote.CreateEndpoint("talker", null, destination: 0x600);
        talker.Send("1"u8);
        Assert.That(inCallback.Wait(TimeSpan.FromSeconds(20)), Is.True);
        Task dispose = Task.Run(ep.Dispose);
        Assert.That(dispose.Wait(TimeSpan.FromMilliseconds(200)), Is.False, "Dispose waits for the running callback (Linux's cb_lock)");
        gate.Set();
        Assert.That(dispose.Wait(TimeSpan.FromSeconds(20)), Is.True);
        int after = Volatile.Read(ref calls);
        talker.Send("2"u8);
        BusTests.WaitUntil(() => link.Host.Statistics.DroppedUnknownDestination == 1, "the second message to be dropped");
        Assert.That(Volatile.Read(ref calls), Is.EqualTo(after), "nothing called back after Dispose returned");
    }

    [Test]
    public void MessagesRacingTheirEndpointsDestructionAreNeverCountedAsQueueOverflow()
    {
        using var link = new RpmsgLink();
        using RpmsgEndpoint talker = link.Remote.CreateEndpoint("talker", null, address: 0x700);
        long sent = 0;
        for (int round = 0; round < 1000; round++)
        {
            // A fresh address each round, so a late message can only find its own endpoint, alive or gone.
            uint address = 0x600 + (uint)round;
            RpmsgEndpoint target = link.Host.CreateEndpoint("short-lived", null, address: address);
            for (int i = 0; i < 5; i++) { talker.SendTo(address, "x"u8); sent++; }
            target.Dispose();
        }
        RpmsgStatistics s = link.Host.Statistics;
        BusTests.WaitUntil(() => s.MessagesReceived + s.DroppedEndpointDestroyed + s.DroppedUnknownDestination + s.DroppedQueueOverflow >= sent, "every message accounted for");
        Assert.That(s.DroppedQueueOverflow, Is.Zero, "the queues never filled: a message for a destroyed endpoint is not an overflow");
        Assert.That(s.MessagesReceived + s.DroppedEndpointDestroyed + s.DroppedUnknownDestination, Is.EqualTo(sent));
    }

    [Test]
    public void InDoorbellModeTransmitInterruptsGoOffWhenTheLastWaitingSenderLeaves()
    {
        using var link = new RpmsgLink(mode: NotificationMode.Doorbell, hostOptions: new RpmsgHostOptions { TxBufferCount = 1 });
        IoRegion txAvailFlags = link.Shm.Io.Slice(0x8000 + 256 * 16, 2); // vq1's available ring: the host's transmit queue
        var held = new List<RpmsgHeldBuffer>();
        using RpmsgEndpoint sink = link.Remote.CreateEndpoint("sink", (in RpmsgReceivedMessage m) => { lock (held) held.Add(m.Hold()); });
        using RpmsgEndpoint ep = link.Host.CreateEndpoint("src", null, destination: sink.Address);
        ep.Send("takes the only buffer"u8);
        Assert.That(txAvailFlags.ReadU16(0), Is.EqualTo((ushort)VirtqAvailFlags.NoInterrupt), "nobody waits: no transmit interrupts");
        Task blocked = Task.Run(() => ep.Send("waits"u8, TimeSpan.FromSeconds(20)));
        BusTests.WaitUntil(() => txAvailFlags.ReadU16(0) == 0, "a waiting sender to turn transmit interrupts on");
        BusTests.WaitUntil(() => { lock (held) return held.Count == 1; }, "the first message held");
        lock (held) held[0].Release();
        Assert.That(blocked.Wait(TimeSpan.FromSeconds(20)), Is.True);
        BusTests.WaitUntil(() => txAvailFlags.ReadU16(0) == (ushort)VirtqAvailFlags.NoInterrupt, "the interrupts to go off when the last waiter left");
    }

    [Test]
    public void ABadUsedEntryRightAfterDriverOkFailsTheDeviceWithItsTypedError()
    {
        // The remote answers DRIVER_OK at once with a used entry the host never made available, racing the host's start.
        for (int round = 0; round < 30; round++)
        {
            using var shm = MappedRegion.CreateMemfd("race", 0x80000, RpmsgLink.Base);
            var memory = new MemoryMap(shm.Io);
            shm.Io.Write(0, new ResourceTableBuilder().Vdev(VirtioRpmsg.DeviceId, 0, 1, [new VringSpec((uint)RpmsgLink.Base + 0x4000, 0x1000, 256, 1), new VringSpec((uint)RpmsgLink.Base + 0x8000, 0x1000, 256, 2)]).Build());
            VdevResource vdev = ResourceTable.Parse(shm.Io.Slice(0, 0x1000)).Vdevs[0];
            var (hostBell, remoteBell) = EventFdDoorbell.CreatePair();
            using (hostBell)
            using (remoteBell)
            {
                var rxRing = SplitRing.Legacy(memory, RpmsgLink.Base + 0x4000, 256, 0x1000);
                Task hostile = Task.Run(() =>
                {
                    var spin = new SpinWait();
                    while ((vdev.Status & VirtioStatus.DriverOk) == 0) spin.SpinOnce(-1);
                    rxRing.Used.Write(SplitRingOffsets.UsedEntry(0), new VirtqUsedElement(9999, 16));
                    rxRing.Used.WriteU16Release(SplitRingOffsets.Index, 1);
                    remoteBell.Ring(1);
                });
                var failed = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
                using var loop = new NotificationLoop("race", NotificationMode.Adaptive);
                var opts = new RpmsgHostOptions().ForRings(256, 256);
                var driver = new VirtioRpmsgDriver("host", opts);
                loop.Start();
                new VdevTransport(vdev, memory, hostBell).ProbeDriver(driver, loop, shm.Io.Slice(0x10000, opts.PoolSize));
                using VirtioRpmsgHost host = driver.Bus!;
                host.DeviceFailed += e => failed.TrySetResult(e);
                if (host.Failure is Exception early) failed.TrySetResult(early); // failed before we could listen
                Assert.That(hostile.Wait(TimeSpan.FromSeconds(20)), Is.True);
                Exception e = RpmsgLink.Await(failed.Task, $"the device to fail (round {round})");
                Assert.That(e, Is.TypeOf<VirtqueueException>(), $"round {round}: {e}");
                Assert.That(((VirtqueueException)e).Error, Is.EqualTo(VirtqueueError.UsedIdOutOfRange), $"round {round}");
            }
        }
    }

    [Test]
    public void ARemoteThatLeftMakesASendFailWithATypedErrorAndOneInfoLine()
    {
        // The remote's doorbell is a UNIX socket, as in OpenAMP's Linux port; it closes it (exits) under a live host.
        string path = Path.Combine(Path.GetTempPath(), $"ampcan-left-{Guid.NewGuid():N}.sock");
        Task<UnixSocketDoorbell> accept = Task.Run(() => UnixSocketDoorbell.Accept(path, TimeSpan.FromSeconds(20)));
        using UnixSocketDoorbell hostBell = UnixSocketDoorbell.Connect(path, TimeSpan.FromSeconds(20));
        UnixSocketDoorbell remoteBell = accept.Result;
        using var shm = MappedRegion.CreateMemfd("left", 0x80000, RpmsgLink.Base);
        var memory = new MemoryMap(shm.Io);
        shm.Io.Write(0, new ResourceTableBuilder().Vdev(VirtioRpmsg.DeviceId, 0, 1, [new VringSpec((uint)RpmsgLink.Base + 0x4000, 0x1000, 256, 1), new VringSpec((uint)RpmsgLink.Base + 0x8000, 0x1000, 256, 2)]).Build());
        VdevResource vdev = ResourceTable.Parse(shm.Io.Slice(0, 0x1000)).Vdevs[0];
        var logs = new CapturingLoggerFactory();
        using var loop = new NotificationLoop("left", NotificationMode.Doorbell);
        var opts = new RpmsgHostOptions().ForRings(256, 256);
        var driver = new VirtioRpmsgDriver("host", opts, logs.CreateLogger("host"));
        loop.Start();
        new VdevTransport(vdev, memory, hostBell).ProbeDriver(driver, loop, shm.Io.Slice(0x10000, opts.PoolSize));
        using VirtioRpmsgHost host = driver.Bus!;
        var left = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        int failures = 0;
        host.PeerLeft += e => left.TrySetResult(e);
        host.DeviceFailed += _ => Interlocked.Increment(ref failures);
        using RpmsgEndpoint ep = host.CreateEndpoint("src", null, destination: 0x400);
        remoteBell.Dispose();
        // Whichever comes first (the loop seeing the socket close, or a kick failing with EPIPE), the send fails typed.
        var e = Assert.Throws<RpmsgException>(() => { for (int i = 0; i < 300; i++) ep.Send("anyone?"u8); })!;
        Assert.That(e.Error, Is.EqualTo(RpmsgError.DeviceFailed));
        Assert.That(RpmsgLink.Await(left.Task, "the peer to be seen leaving"), Is.TypeOf<RpmsgPeerLeftException>());
        Assert.That(failures, Is.Zero, "a peer leaving is not a device failure");
        Assert.That(logs.AtLeast(LogLevel.Warning), Is.Empty, "an ordinary event: no warning, no error, no stack trace");
        Assert.That(logs.Lines.Count(l => l.Text.Contains("the peer left")), Is.EqualTo(1));
        File.Delete(path);
    }
}

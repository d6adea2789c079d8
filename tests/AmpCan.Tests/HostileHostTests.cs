using AmpCan.Host.Boards;
using System.Diagnostics;
using System.Text;
using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Boards;
using AmpCan.Rpmsg;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Vring;

namespace AmpCan.Tests.Host;

/// <summary>
/// <c>ampcan remote-sim</c> against a hostile or vanishing host written by hand against its shared file and doorbell
/// socket, as a real one would be: the remote reports and exits, it never crashes or lingers.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class HostileHostTests
{
    private FileBoardWithRemoteSim _b = null!;

    [SetUp]
    public void FileBoard() => _b = new FileBoardWithRemoteSim("hh");

    [TearDown]
    public void RemoveFiles() => _b.Dispose();

    [TestCase(8u, true, TestName = "ReceiveBuffersOf8BytesFailTheRemotesDeviceNotItsProcess")]
    [TestCase(512u, false, TestName = "ReceiveBuffersWithoutTheWriteFlagFailTheRemotesDeviceNotItsProcess")]
    public void AHostOfferingUnusableReceiveBuffers(uint length, bool writable)
    {
        using RemoteSimProcess sim = _b.StartRemoteSim();
        {
            using MappedRegion shm = MappedRegion.MapFile(_b.SharedFile, 0x80000, new SharedFileOptions { RemoveOnDispose = false });
            var memory = new MemoryMap(shm.Io);
            VdevResource vdev = ResourceTable.Parse(shm.Io.Slice(0, 0x1000)).Vdevs[0];
            using UnixSocketDoorbell bell = UnixSocketDoorbell.Connect(_b.Socket, TimeSpan.FromSeconds(20));
            // The host's part of start-up, done wrong: its receive ring (vq0) gets buffers the remote cannot write a message into.
            vdev.Status = VirtioStatus.Acknowledge | VirtioStatus.Driver;
            vdev.DriverFeatures = vdev.DeviceFeatures;
            VringResource r0 = vdev.Vring(0), r1 = vdev.Vring(1);
            var rx = new SplitVirtqueueDriver(SplitRing.Legacy(memory, r0.DeviceAddress, (int)r0.QueueSize, r0.Align), eventIndex: false);
            _ = new SplitVirtqueueDriver(SplitRing.Legacy(memory, r1.DeviceAddress, (int)r1.QueueSize, r1.Align), eventIndex: false);
            for (int i = 0; i < 8; i++) rx.TryAdd(new VirtqBuffer(0x10000 + (ulong)i * 512, length), deviceWritable: writable, i);
            rx.Publish();
            vdev.Status = VirtioStatus.Acknowledge | VirtioStatus.Driver | VirtioStatus.DriverOk;
            bell.Ring(r0.NotifyId);
            int code = sim.Exit(TimeSpan.FromSeconds(30));
            Assert.That(code, Is.EqualTo(3), $"one line and exit 3, not a crash (134):\n{sim.Output}");
            Assert.That(sim.Output, Does.Contain("the host broke the protocol").And.Contain("not device-writable or not longer than the rpmsg header"));
            Assert.That(sim.Output, Does.Not.Contain("   at ").And.Not.Contain("Unhandled"));
            Assert.That(vdev.Status.HasFlag(VirtioStatus.DeviceNeedsReset), Is.True, "the remote says so where the host can see it");
        }
    }

    [Test]
    public void AHostThatLeavesWhileTheRemotesRepliesWaitForBuffersIsNoticedAtOnce()
    {
        using RemoteSimProcess sim = _b.StartRemoteSim();
        {
            BoardDescriptor board = BoardDescriptor.Load(_b.Board) with { Rpmsg = BoardDescriptor.Load(_b.Board).Rpmsg with { RxBuffers = 2 } };
            using (BoardHost host = BoardHost.Start(board))
            {
                var sw = Stopwatch.StartNew();
                while (!host.Rpmsg.Channels.Any(c => c.Name == "rpmsg-echo") && sw.Elapsed < TimeSpan.FromSeconds(20)) Thread.Yield();
                uint echo = host.Rpmsg.Channels.Single(c => c.Name == "rpmsg-echo").RemoteAddress;
                // The host keeps both of its receive buffers: every further echo reply waits in the remote.
                var held = new List<RpmsgHeldBuffer>();
                using RpmsgEndpoint ep = host.Rpmsg.CreateEndpoint("hoarder", (in RpmsgReceivedMessage m) => { lock (held) held.Add(m.Hold()); }, destination: echo);
                for (int i = 0; i < 20; i++) ep.Send(Encoding.ASCII.GetBytes($"echo {i}"));
                while (held.Count < 2 && sw.Elapsed < TimeSpan.FromSeconds(20)) Thread.Yield();
                Assert.That(held, Has.Count.EqualTo(2));
            }
            var left = Stopwatch.StartNew();
            int code = sim.Exit(TimeSpan.FromSeconds(10));
            Assert.That(code, Is.Zero, sim.Output);
            Assert.That(left.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)), "it used to wait 15 s per blocked reply (50 s here)");
            Assert.That(File.Exists(_b.SharedFile) || File.Exists(_b.Socket), Is.False, "and it removed its file and socket");
        }
    }
}

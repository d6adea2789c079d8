using AmpCan.Remoteproc;
using AmpCan.Simulation;
using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;
using AmpCan.VirtioCan.Wire;
using AmpCan.Vring;

namespace AmpCan.Tests.VirtioCan;

/// <summary>
/// The simulated remote's CAN node on its <see cref="VirtioCanDriver"/>, across a resource-table vdev from a
/// <see cref="VirtioCanDevice"/> on a virtual bus: it starts the controller, answers even identifiers with the next
/// one, beats once a period, recovers from bus-off, and stops the controller when stopped. The same node as an ECU on
/// a plain bus member, and the <see cref="VirtioCanControllerKeeper"/> that keeps a driver's controller on its own.
/// </summary>
public class SimulatedCanNodeTests
{
    private static readonly ulong Features = VirtioCanFeatures.Mask(VirtioCanFeatures.CanClassic) | VirtioCanFeatures.Mask(VirtioCanFeatures.CanFd)
        | VirtioCanFeatures.Mask(VirtioCanFeatures.RtrFrames) | VirtioRingFeatures.Bit(VirtioRingFeatures.EventIndex) | VirtioRingFeatures.Bit(VirtioRingFeatures.IndirectDescriptors);

    private static readonly TimeSpan FastBeat = TimeSpan.FromMilliseconds(20);

    private static CanFrame Frame(uint id, CanFrameKind kind, params byte[] data)
    {
        var f = new CanFrame { Id = id, Kind = kind, Length = (byte)data.Length };
        data.CopyTo(f.Payload);
        return f;
    }

    // The next frame on the bus that is not a heartbeat.
    private static CanFrame NextAnswer(ICanPort port, string what)
    {
        while (true)
        {
            CanFrame f = CanVdevPair.Next(port, what);
            if (f.IsExtended || f.Id is < SimulatedCanNode.HeartbeatBase or > SimulatedCanNode.HeartbeatLast) return f;
        }
    }

    private sealed class RunningNode : IDisposable
    {
        public readonly CanVdevPair Pair;
        public readonly VirtioCanDevice Device;
        public readonly SimulatedCanNode Node;
        public readonly Task Run;
        private readonly CancellationTokenSource _stop = new();

        public RunningNode(string name, SimulatedCanNodeOptions options, VirtualCanBus? bus = null)
        {
            Pair = new CanVdevPair(name, Features, bus: bus);
            Device = Pair.Connect(Features);
            Node = new SimulatedCanNode(Pair.Driver, options);
            Run = Node.RunAsync(_stop.Token);
            Assert.That(Node.Started.Wait(CanVdevPair.Patience), Is.True, "the node started its controller");
        }

        public void Stop()
        {
            _stop.Cancel();
            Assert.That(Run.Wait(CanVdevPair.Patience), Is.True, "the node stopped");
        }

        public void Dispose()
        {
            if (!Run.IsCompleted) Stop();
            Pair.Dispose();
            _stop.Dispose();
        }
    }

    [Test]
    public void EvenIdentifiersAreAnsweredWithTheNextOneAndOddOnesAndHeartbeatsAreNot()
    {
        using var n = new RunningNode("can-node-echo", new SimulatedCanNodeOptions { NodeId = 5, HeartbeatPeriod = FastBeat });
        Assert.That(n.Device.IsStarted, Is.True);
        ICanPort tester = n.Pair.Other;
        CanFrame[] asked =
        [
            Frame(0x100, CanFrameKind.None, 1, 2, 3),
            Frame(0x1000, CanFrameKind.Extended | CanFrameKind.Fd, [.. Enumerable.Range(0, 64).Select(i => (byte)i)]),
            new CanFrame { Id = 0x200, Kind = CanFrameKind.Remote, Length = 2 },
            Frame(0x7FE, CanFrameKind.None),
        ];
        foreach (CanFrame f in asked)
        {
            tester.Send(f);
            CanFrame answer = NextAnswer(tester, $"the answer to 0x{f.Id:x}");
            Assert.That((answer.Id, answer.Kind, answer.Length), Is.EqualTo((f.Id + 1, f.Kind, f.Length)), $"0x{f.Id:x} answered as 0x{f.Id + 1:x}");
            Assert.That(answer.Payload.ToArray(), Is.EqualTo(f.Payload.ToArray()), "the same data");
        }
        // Unanswered: an odd identifier, another node's heartbeat (0x702 is even). The answer to what follows comes next.
        tester.Send(Frame(0x101, CanFrameKind.None, 9));
        tester.Send(Frame(0x702, CanFrameKind.None, 0));
        tester.Send(Frame(0x102, CanFrameKind.None, 8));
        Assert.That(NextAnswer(tester, "the answer to 0x102").Id, Is.EqualTo(0x103u), "0x101 and 0x702 were not answered");
        Assert.That(n.Node.Answered, Is.EqualTo(asked.Length + 1));
    }

    [Test]
    public void TheHeartbeatCarriesACounterOncePerPeriod()
    {
        using var n = new RunningNode("can-node-beat", new SimulatedCanNodeOptions { NodeId = 0x11, HeartbeatPeriod = FastBeat });
        for (int beat = 0; beat < 5; beat++)
        {
            CanFrame f = CanVdevPair.Next(n.Pair.Other, $"heartbeat {beat}");
            Assert.That((f.Id, f.Kind, f.Length, f.Data[0]), Is.EqualTo((0x711u, CanFrameKind.None, (byte)1, (byte)beat)), $"heartbeat {beat}: 0x700 + node, one counter byte");
        }
    }

    [Test]
    public void TheDefaultHeartbeatIsOncePerSecond()
    {
        using var n = new RunningNode("can-node-second", new SimulatedCanNodeOptions { NodeId = 1 });
        CanFrame first = CanVdevPair.Next(n.Pair.Other, "the first heartbeat");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        CanFrame second = CanVdevPair.Next(n.Pair.Other, "the second heartbeat");
        Assert.That((first.Id, first.Data[0], second.Data[0]), Is.EqualTo((0x701u, (byte)0, (byte)1)));
        Assert.That(clock.Elapsed, Is.InRange(TimeSpan.FromMilliseconds(700), TimeSpan.FromSeconds(5)), "about a second apart (the first seen a little late, the second on a busy machine later)");
    }

    [Test]
    public void TwoNodesOnOneBusAnswerAThirdMemberButNeverEachOther()
    {
        var bus = new VirtualCanBus("can-node-two");
        var options = new SimulatedCanNodeOptions { NodeId = 1, HeartbeatPeriod = FastBeat };
        using var a = new RunningNode("can-node-a", options, bus);
        using var b = new RunningNode("can-node-b", options with { NodeId = 2 }, bus);
        VirtualCanPort tester = bus.Attach("tester", capacity: 4096);
        // Each node hears the other's answer to 0x100 before the tester's 0x110 (the tester waits for both answers
        // first): a node that answered it would put 0x102 on the bus ahead of its 0x111.
        foreach (uint asked in new uint[] { 0x100, 0x110 })
        {
            tester.Send(Frame(asked, CanFrameKind.None, 1));
            for (int node = 0; node < 2; node++)
                Assert.That(NextAnswer(tester, $"answer {node} to 0x{asked:x}").Id, Is.EqualTo(asked + 1), $"the next frame on the bus answers 0x{asked:x}");
        }
        CanVdevPair.Until(() => a.Node.Answered == 2 && b.Node.Answered == 2, "each node counted its two answers");
        Assert.That(a.Pair.Other.Pending + b.Pair.Other.Pending, Is.GreaterThan(0), "the other members heard the nodes");
    }

    [Test]
    public void BusOffIsFollowedByARestartAndHeartbeatsGoOn()
    {
        using var n = new RunningNode("can-node-busoff", new SimulatedCanNodeOptions { NodeId = 3, HeartbeatPeriod = FastBeat, BusOffRestart = TimeSpan.FromMilliseconds(10) });
        CanVdevPair.Next(n.Pair.Other, "a heartbeat before bus-off");
        n.Device.ReportBusOff();
        CanVdevPair.Until(() => n.Node.Restarts == 1, "the node started its controller again");
        Assert.That(n.Device.IsStarted, Is.True);
        Assert.That(n.Pair.Driver.Counters.BusOffs, Is.EqualTo(1));
        long beats = n.Node.Heartbeats;
        CanVdevPair.Until(() => n.Node.Heartbeats > beats + 2, "heartbeats after the restart");
    }

    [Test]
    public void StoppingTheNodeStopsTheController()
    {
        var n = new RunningNode("can-node-stop", new SimulatedCanNodeOptions { NodeId = 4, HeartbeatPeriod = FastBeat });
        using (n)
        {
            Assert.That(n.Device.IsStarted, Is.True);
            n.Stop();
            Assert.That(n.Device.IsStarted, Is.False, "STOP reached the device");
            Assert.That(n.Pair.Driver.IsStarted, Is.False);
            n.Pair.Other.Send(Frame(0x100, CanFrameKind.None, 1));
            CanVdevPair.Until(() => n.Device.Dropped == 1, "the stopped device dropped the frame");
            Assert.That(n.Node.Answered, Is.Zero);
        }
    }

    [Test]
    public void ANodeIdOutOfRangeIsNamed()
    {
        using var driver = new VirtioCanDriver("unprobed");
        Assert.That(() => new SimulatedCanNode(driver, new SimulatedCanNodeOptions { NodeId = 128 }),
            Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("NodeId").And.Message.Contains("1 to 127"));
        var node = new SimulatedCanNode(driver);
        Assert.That(() => node.RunAsync(CancellationToken.None).Wait(CanVdevPair.Patience),
            Throws.InstanceOf<AggregateException>().With.InnerException.InstanceOf<InvalidOperationException>(), "a driver never probed: the node cannot run");
    }

    [Test]
    public void OnAPlainBusMemberTheNodeAnswersAndBeatsFromTheStart()
    {
        using var bus = new VirtualCanBus("can-node-ecu");
        using VirtualCanPort ecuPort = bus.Attach("ecu");
        using VirtualCanPort tester = bus.Attach("tester");
        var ecu = new SimulatedCanNode(ecuPort, new SimulatedCanNodeOptions { NodeId = 9, HeartbeatPeriod = FastBeat });
        using var stop = new CancellationTokenSource();
        Task run = ecu.RunAsync(stop.Token);
        Assert.That(ecu.Started.Wait(CanVdevPair.Patience), Is.True, "started when it runs: nobody has a controller to start");
        Assert.That(ecu.Keeper, Is.Null);
        CanFrame beat = CanVdevPair.Next(tester, "the ECU's first heartbeat");
        Assert.That((beat.Id, beat.Data[0]), Is.EqualTo((0x709u, (byte)0)));
        tester.Send(Frame(0x300, CanFrameKind.None, 5));
        Assert.That(NextAnswer(tester, "the ECU's answer").Id, Is.EqualTo(0x301u));
        stop.Cancel();
        Assert.That(run.Wait(CanVdevPair.Patience), Is.True, "the node stopped");
        Assert.That((ecu.Answered, ecu.Restarts), Is.EqualTo((1L, 0L)));
        Assert.That(() => ecu.RunAsync(CancellationToken.None), Throws.InvalidOperationException.With.Message.Contains("runs once"));
    }

    [Test]
    public void WithoutARestartDelayABusOffLeavesTheControllerStopped()
    {
        using var pair = new CanVdevPair("can-keeper-off", Features);
        VirtioCanDevice device = pair.Connect(Features);
        var decided = new LineCounter("bus-off; the controller stays stopped");
        using var keeper = new VirtioCanControllerKeeper(pair.Driver, new VirtioCanControllerKeeperOptions { RestartDelay = null }, decided);
        keeper.Start();
        Assert.That(keeper.Started.Wait(CanVdevPair.Patience) && keeper.Started.Result, Is.True);
        device.ReportBusOff();
        // The taker (a node, a bridge) takes the error frame through the keeper's port; the keeper then decides.
        CanVdevPair.Until(() => keeper.Port.TryReceive(out CanFrame f) && CanErrorFrame.IsBusOff(f), "the bus-off error frame");
        CanVdevPair.Until(() => decided.Count == 1, "the keeper decided to leave the controller stopped");
        Assert.That(keeper.Port.Send(Frame(0x100, CanFrameKind.None, 1)), Is.EqualTo(CanSendResult.Down));
        Assert.That((keeper.BusOffs, keeper.Restarts, keeper.IsUp, device.IsStarted, pair.Driver.IsStarted), Is.EqualTo((1L, 0L, false, false, false)), "nobody started it again");
    }

    // Counts the lines logged that contain a text: what a keeper says is how a test sees it waiting.
    private sealed class LineCounter(string text) : Microsoft.Extensions.Logging.ILogger
    {
        private int _count;
        public int Count => Volatile.Read(ref _count);
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;
        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception,
            Func<TState, Exception?, string> formatter)
        {
            if (formatter(state, exception).Contains(text, StringComparison.Ordinal)) Interlocked.Increment(ref _count);
        }
    }

    private static ushort AvailableIndex(CanVdevPair pair, int queue)
    {
        VringResource r = pair.Vdev.Vring(queue);
        return SplitRing.Legacy(pair.Memory, r.DeviceAddress, (int)r.QueueSize, r.Align).Available.ReadU16(2);
    }

    [Test]
    public void AStartTheDeviceAnswersLateIsWaitedForNotRepeated()
    {
        using var pair = new CanVdevPair("can-keeper-late", Features);
        pair.ProbeDriver();
        var waits = new LineCounter("has not answered START");
        using var keeper = new VirtioCanControllerKeeper(pair.Driver, new VirtioCanControllerKeeperOptions { ControlTimeout = TimeSpan.FromMilliseconds(20) }, waits);
        keeper.Start();
        // No device yet: the keeper's START waits on the control queue through several of its control timeouts.
        CanVdevPair.Until(() => waits.Count >= 3, "the keeper waited three times for START");
        Assert.That(AvailableIndex(pair, 2), Is.EqualTo(1), "START on the control queue");
        Assert.That(keeper.Started.IsCompleted, Is.False);
        var device = new VirtioCanDevice("can-device", pair.Bus.Attach("can-device")) { DeviceFeatures = Features };
        try
        {
            Assert.That(pair.DeviceTransport.ActivateDevice(device, pair.DeviceLoop, CanVdevPair.Patience), Is.True);
            Assert.That(keeper.Started.Wait(CanVdevPair.Patience) && keeper.Started.Result, Is.True, "the START waiting on the ring was answered");
            Assert.That((device.IsStarted, keeper.IsUp), Is.EqualTo((true, true)));
            keeper.Dispose(); // STOP, answered after every request before it
            Assert.That(device.IsStarted, Is.False);
            Assert.That(AvailableIndex(pair, 2), Is.EqualTo(2), "the control queue carried one START and the STOP: no START per wait, queued behind");
        }
        finally
        {
            keeper.Dispose();
            device.Reset();
        }
    }

    [Test]
    public void AKeeperGivesUpAfterItsStartTimeoutAndSendsNoStopTheDeviceWouldNotAnswer()
    {
        using var pair = new CanVdevPair("can-keeper-gone", Features);
        pair.ProbeDriver();
        var options = new VirtioCanControllerKeeperOptions { StartTimeout = TimeSpan.FromMilliseconds(100), ControlTimeout = TimeSpan.FromSeconds(5) };
        var keeper = new VirtioCanControllerKeeper(pair.Driver, options);
        keeper.Start();
        Assert.That(keeper.Started.Wait(CanVdevPair.Patience), Is.True, "the keeper said how it ended");
        Assert.That(keeper.Started.Result, Is.False, "no device: it gave up");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        keeper.Dispose();
        Assert.That(clock.Elapsed, Is.LessThan(options.ControlTimeout), "no STOP waited for behind an unanswered START");
    }

    [Test]
    public void AKeeperOfADriverNeverProbedRefusesToStart()
    {
        using var driver = new VirtioCanDriver("unprobed");
        using var keeper = new VirtioCanControllerKeeper(driver);
        Assert.That(keeper.Start, Throws.InvalidOperationException.With.Message.Contains("has not been probed"));
    }
}

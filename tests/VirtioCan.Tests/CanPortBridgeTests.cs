using System.Collections.Concurrent;
using System.Diagnostics;
using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;

namespace AmpCan.Tests.VirtioCan;

/// <summary>
/// The bridge between two ports: two in-process buses joined hear each other in order, echoes and error frames stay
/// home, a busy far side (a paced bus's full transmit queue) delays frames without losing them, a down one costs
/// counted frames, and Dispose stops it at once. A scripted port stands in only where a real one cannot be made to
/// answer Down or throw.
/// </summary>
public class CanPortBridgeTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private static CanFrame Numbered(int i, CanFrameKind kind = CanFrameKind.None)
    {
        var f = new CanFrame { Id = (uint)(i & 0x7FF), Kind = kind, Length = 4 };
        BitConverter.TryWriteBytes(f.Payload, i);
        return f;
    }

    private static int Sequence(in CanFrame f) => BitConverter.ToInt32(((ReadOnlySpan<byte>)f.Data)[..4]);

    /// <summary>A port whose answers the test scripts; what it accepted is kept, and frames put in it arrive as from a bus.</summary>
    private sealed class ScriptedPort(string name, Func<CanFrame, CanSendResult> answer) : ICanPort
    {
        private readonly ConcurrentQueue<CanFrame> _incoming = new();
        private readonly AutoResetEvent _sendCalled = new(false);

        public string Name => name;
        public Action? FrameArrived { get; set; }
        public bool ConfirmsTransmits { get; set; }
        public int MaxUnconfirmed => 0;
        public int Pending => _incoming.Count;
        public long Dropped => 0;
        public bool Disposed { get; private set; }
        public ConcurrentQueue<CanFrame> Accepted { get; } = new();
        public int SendCalls;

        public CanSendResult Send(in CanFrame frame)
        {
            Interlocked.Increment(ref SendCalls);
            try
            {
                CanSendResult r = answer(frame);
                if (r == CanSendResult.Sent) Accepted.Enqueue(frame);
                return r;
            }
            finally
            {
                _sendCalled.Set();
            }
        }

        public void Arrive(in CanFrame frame)
        {
            _incoming.Enqueue(frame);
            FrameArrived?.Invoke();
        }

        public bool TryReceive(out CanFrame frame) => _incoming.TryDequeue(out frame);
        public bool TryPeek(out CanFrame frame) => _incoming.TryPeek(out frame);

        public void WaitForSends(int calls)
        {
            var limit = Stopwatch.StartNew();
            while (Volatile.Read(ref SendCalls) < calls)
                if (!_sendCalled.WaitOne(Patience - limit.Elapsed > TimeSpan.Zero ? Patience - limit.Elapsed : TimeSpan.Zero))
                    Assert.Fail($"{name}: {SendCalls} of {calls} sends within {Patience}");
        }

        public void Dispose() => Disposed = true;
    }

    [Test]
    public void TwoBusesBridgedHearEachOtherInOrderAndTheLogShowsWhatCrossed()
    {
        using var one = new VirtualCanBus("one");
        using var two = new VirtualCanBus("two");
        using VirtualCanPort x = one.Attach("x"), y = two.Attach("y");
        var logged = new StringWriter();
        var log = new CandumpLog(logged);
        var bridge = new CanPortBridge(one.Attach("vcan0"), two.Attach("vcan1"), log);
        using var atX = new PortReader(x);
        using var atY = new PortReader(y);
        for (int i = 0; i < 100; i++)
        {
            x.Send(Numbered(i));
            y.Send(Numbered(1000 + i));
        }
        atY.TakeUntil(100, Patience);
        atX.TakeUntil(100, Patience);
        bridge.Dispose();
        log.Dispose();

        Assert.That(atY.Frames.Select(f => Sequence(f)), Is.EqualTo(Enumerable.Range(0, 100)), "x's frames reach y in order");
        Assert.That(atX.Frames.Select(f => Sequence(f)), Is.EqualTo(Enumerable.Range(1000, 100)), "and y's reach x");
        Assert.That((x.Pending, y.Pending), Is.EqualTo((0, 0)), "nobody hears its own frames back");
        Assert.That((bridge.CrossedAToB, bridge.CrossedBToA, bridge.Dropped), Is.EqualTo((100L, 100L, 0L)));

        var fromVcan0 = new List<int>();
        var fromVcan1 = new List<int>();
        foreach (string line in logged.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            Assert.That(CandumpLine.TryParse(line, out _, out ReadOnlySpan<char> iface, out CanFrame f), Is.True, line);
            (iface.SequenceEqual("vcan0") ? fromVcan0 : fromVcan1).Add(Sequence(f));
        }
        Assert.That(fromVcan0, Is.EqualTo(Enumerable.Range(0, 100)), "logged under the port each came from");
        Assert.That(fromVcan1, Is.EqualTo(Enumerable.Range(1000, 100)));
    }

    [Test]
    public void EchoesAndErrorFramesStayOnTheirSide()
    {
        using var one = new VirtualCanBus("one");
        using var two = new VirtualCanBus("two");
        using VirtualCanPort x = one.Attach("x"), y = two.Attach("y");
        VirtualCanPort nearX = one.Attach("near-x");
        nearX.ConfirmsTransmits = true; // what the bridge sends on bus one comes back to it as echoes
        using var bridge = new CanPortBridge(nearX, two.Attach("near-y"));
        using var atX = new PortReader(x);
        using var atY = new PortReader(y);

        y.Send(Numbered(1));
        atX.TakeUntil(1, Patience);
        x.Send(Numbered(2, CanFrameKind.Error));
        x.Send(Numbered(3));
        atY.TakeUntil(1, Patience);
        y.Send(Numbered(4)); // a marker behind any echo of frame 1 the bridge might have sent back
        atX.TakeUntil(2, Patience);

        Assert.That(atY.Frames.Select(f => Sequence(f)), Is.EqualTo(new[] { 3 }), "the error frame did not cross, the frame after it did");
        Assert.That(atX.Frames.Select(f => Sequence(f)), Is.EqualTo(new[] { 1, 4 }));
        bridge.Dispose(); // its counters are final once its thread is gone
        atY.TakeWaiting();
        Assert.That(atY.Frames.Select(f => Sequence(f)), Is.EqualTo(new[] { 3 }), "y never heard its own frames back through the echo");
        Assert.That((bridge.CrossedAToB, bridge.CrossedBToA), Is.EqualTo((1L, 2L)));
    }

    [Test]
    public void ABusyFarSideDelaysFramesWithoutLosingOrReorderingThem()
    {
        using var fast = new VirtualCanBus("fast");
        using var paced = new VirtualCanBus("paced", bitrate: 100_000, transmitQueue: 4); // 0.6 ms a frame, four at a time
        using VirtualCanPort x = fast.Attach("x"), y = paced.Attach("y");
        using var bridge = new CanPortBridge(fast.Attach("to-paced"), paced.Attach("from-fast"));
        using var atY = new PortReader(y);
        for (int i = 0; i < 60; i++) Assert.That(x.Send(Numbered(i)), Is.EqualTo(CanSendResult.Sent));
        atY.TakeUntil(60, Patience);

        bridge.Dispose();
        Assert.That(atY.Frames.Select(f => Sequence(f)), Is.EqualTo(Enumerable.Range(0, 60)));
        Assert.That(paced.Refused, Is.GreaterThan(0), "the paced bus did answer Busy");
        Assert.That((bridge.CrossedAToB, bridge.Dropped), Is.EqualTo((60L, 0L)));
    }

    [Test]
    public void BusyAnswersAreRetriedAndDownAnswersDropAndCount()
    {
        int busyLeft = 3;
        bool down = false;
        var far = new ScriptedPort("far", _ => Volatile.Read(ref down) ? CanSendResult.Down : Interlocked.Decrement(ref busyLeft) >= 0 ? CanSendResult.Busy : CanSendResult.Sent);
        using var bus = new VirtualCanBus("near");
        using VirtualCanPort x = bus.Attach("x");
        using var bridge = new CanPortBridge(bus.Attach("near"), far);

        for (int i = 0; i < 5; i++) x.Send(Numbered(i));
        far.WaitForSends(3 + 5);
        Assert.That(far.Accepted.Select(f => Sequence(f)), Is.EqualTo(Enumerable.Range(0, 5)), "the first frame held through three Busy answers, then all in order");

        Volatile.Write(ref down, true);
        for (int i = 5; i < 9; i++) x.Send(Numbered(i));
        far.WaitForSends(3 + 5 + 4);

        Volatile.Write(ref down, false);
        x.Send(Numbered(9));
        far.WaitForSends(3 + 5 + 4 + 1);
        bridge.Dispose();
        Assert.That(far.Accepted.Select(f => Sequence(f)), Is.EqualTo(new[] { 0, 1, 2, 3, 4, 9 }), "it goes on once the far side is back");
        Assert.That((bridge.CrossedAToB, bridge.Dropped), Is.EqualTo((6L, 4L)), "the four sent while it was down are counted");
    }

    [Test]
    public void ErrorFramesCrossFromAToItsFaceBButNeverBack()
    {
        var controller = new ScriptedPort("controller", _ => CanSendResult.Sent);
        var face = new ScriptedPort("face", _ => CanSendResult.Sent);
        using var bridge = new CanPortBridge(controller, face, errorFramesFromA: true);
        controller.Arrive(CanErrorFrame.BusOff());
        controller.Arrive(Numbered(1));
        face.WaitForSends(2);
        face.Arrive(Numbered(2, CanFrameKind.Error));
        face.Arrive(Numbered(3));
        controller.WaitForSends(1);
        bridge.Dispose();
        Assert.That(face.Accepted.Select(f => (f.Kind, f.Id)), Is.EqualTo(new[] { (CanFrameKind.Error, 0x40u), (CanFrameKind.None, 1u) }),
            "the controller's bus-off reached its face, then the frame after it");
        Assert.That(controller.Accepted.Select(f => Sequence(f)), Is.EqualTo(new[] { 3 }), "the face's error frame stayed there");
    }

    [Test]
    public void AFrameTheFarSideThrowsOnIsDroppedAndTheRestCross()
    {
        var far = new ScriptedPort("far", f => Sequence(f) == 1 ? throw new InvalidOperationException("test: this frame breaks the port") : CanSendResult.Sent);
        using var bus = new VirtualCanBus("near");
        using VirtualCanPort x = bus.Attach("x");
        using var bridge = new CanPortBridge(bus.Attach("near"), far);
        for (int i = 0; i < 3; i++) x.Send(Numbered(i));
        far.WaitForSends(3);
        bridge.Dispose();
        Assert.That(far.Accepted.Select(f => Sequence(f)), Is.EqualTo(new[] { 0, 2 }));
        Assert.That(bridge.Dropped, Is.EqualTo(1));
    }

    [Test]
    public void FramesArrivingOnTheOtherPortCrossBack()
    {
        var far = new ScriptedPort("far", _ => CanSendResult.Sent);
        using var bus = new VirtualCanBus("near");
        using VirtualCanPort x = bus.Attach("x");
        using var bridge = new CanPortBridge(bus.Attach("near"), far);
        using var atX = new PortReader(x);
        for (int i = 0; i < 10; i++) far.Arrive(Numbered(i));
        atX.TakeUntil(10, Patience);
        bridge.Dispose();
        Assert.That(atX.Frames.Select(f => Sequence(f)), Is.EqualTo(Enumerable.Range(0, 10)));
        Assert.That(bridge.CrossedBToA, Is.EqualTo(10));
    }

    [Test]
    public void DisposeStopsTheBridgeAtOnceAndReleasesBothPorts()
    {
        var far = new ScriptedPort("far", _ => CanSendResult.Busy); // the bridge is retrying when it is told to stop
        using var bus = new VirtualCanBus("near");
        using VirtualCanPort x = bus.Attach("x");
        VirtualCanPort near = bus.Attach("near");
        var bridge = new CanPortBridge(near, far);
        x.Send(Numbered(1));
        far.WaitForSends(1);

        var stop = Stopwatch.StartNew();
        bridge.Dispose();
        Assert.That(stop.Elapsed, Is.LessThan(TimeSpan.FromSeconds(1)));
        Assert.That((far.Disposed, far.FrameArrived, bus.Ports.Contains(near)), Is.EqualTo((true, (Action?)null, false)));
        Assert.That(bridge.Dropped, Is.EqualTo(1), "the frame it held");
        int calls = Volatile.Read(ref far.SendCalls);
        far.Arrive(Numbered(2));
        Assert.That(Volatile.Read(ref far.SendCalls), Is.EqualTo(calls), "no more sends after Dispose");
    }

    [Test]
    public void ALoggedBridgeRefusesPortNamesALogCannotCarry()
    {
        using var bus = new VirtualCanBus("b");
        using var log = new CandumpLog(TextWriter.Null);
        using VirtualCanPort a = bus.Attach("has blank"), b = bus.Attach("fine");
        Assert.That(() => new CanPortBridge(a, b, log), Throws.ArgumentException.With.Message.Contains("'has blank'"));
    }
}

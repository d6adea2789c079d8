using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;

namespace AmpCan.Tests.VirtioCan;

/// <summary>The in-process bus: every other member gets every frame, in order; a member that does not keep up loses frames, counted, alone.</summary>
public class VirtualCanBusTests
{
    private static CanFrame Frame(uint id, byte value)
    {
        var f = new CanFrame { Id = id, Length = 1 };
        f.Payload[0] = value;
        return f;
    }

    [Test]
    public void EveryOtherMemberGetsEveryFrameInOrderAndTheSenderNone()
    {
        var bus = new VirtualCanBus("vcan");
        using VirtualCanPort a = bus.Attach("a"), b = bus.Attach("b"), c = bus.Attach("c");
        int woken = 0;
        b.FrameArrived = () => Interlocked.Increment(ref woken);
        for (byte i = 0; i < 10; i++) a.Send(Frame(0x100u + i, i));
        c.Send(Frame(0x200, 99));
        Assert.That(a.TryReceive(out CanFrame fromC), Is.True, "a hears c");
        Assert.That(fromC.Id, Is.EqualTo(0x200u));
        Assert.That(a.TryReceive(out _), Is.False, "and not itself");
        for (byte i = 0; i < 10; i++)
        {
            Assert.That(b.TryReceive(out CanFrame f), Is.True);
            Assert.That((f.Id, f.Payload[0]), Is.EqualTo((0x100u + i, i)));
        }
        Assert.That(b.TryReceive(out CanFrame last) && last.Id == 0x200, Is.True);
        Assert.That(woken, Is.EqualTo(11));
        Assert.That((a.Sent, b.Received, c.Pending), Is.EqualTo((10L, 11L, 10)));
    }

    [Test]
    public void AMemberThatDoesNotKeepUpLosesTheNewestFramesCountedAndNobodyElseDoes()
    {
        var bus = new VirtualCanBus("vcan");
        using VirtualCanPort sender = bus.Attach("sender"), slow = bus.Attach("slow", capacity: 4), fast = bus.Attach("fast", capacity: 64);
        for (byte i = 0; i < 10; i++) sender.Send(Frame(i, i));
        Assert.That((slow.Pending, slow.Dropped), Is.EqualTo((4, 6L)));
        Assert.That((fast.Pending, fast.Dropped), Is.EqualTo((10, 0L)));
        for (byte i = 0; i < 4; i++) Assert.That(slow.TryReceive(out CanFrame f) && f.Id == i, Is.True, "the oldest four are kept, in order");
    }

    [Test]
    public void ADetachedMemberGetsNothingMore()
    {
        var bus = new VirtualCanBus("vcan");
        using VirtualCanPort a = bus.Attach("a");
        VirtualCanPort b = bus.Attach("b");
        b.Dispose();
        a.Send(Frame(1, 1));
        Assert.That(b.Pending, Is.Zero);
        Assert.That(bus.Ports, Is.EqualTo(new[] { a }));
    }
}

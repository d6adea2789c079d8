using AmpCan.VirtioCan.Bus;
using AmpCan.VirtioCan;
using AmpCan.VirtioCan.SocketCan;

namespace AmpCan.Tests.VirtioCan;

/// <summary>
/// The frames a SocketCAN port awaits echoes of: matched in order; an echo the kernel dropped restored when a later one
/// shows its frame left and frames were dropped meanwhile, passed over otherwise; given up only after drops and a timeout.
/// </summary>
public class UnconfirmedFramesTests
{
    private static CanFrame Frame(uint id) => new() { Id = id, Length = 1 };

    private static CanFrame Echo(uint id) => new() { Id = id, Length = 1, Kind = CanFrameKind.Echo };

    private static uint[] Drain(CanFrameQueue q)
    {
        var ids = new List<uint>();
        while (q.TryTake(out CanFrame f))
        {
            Assert.That(f.IsEcho, Is.True);
            ids.Add(f.Id);
        }
        return [.. ids];
    }

    [Test]
    public void EchoesInOrderConfirmTheOldestWithoutTheLockPath()
    {
        var u = new UnconfirmedFrames(4);
        for (uint i = 1; i <= 3; i++) Assert.That(u.TryAdd(Frame(i), 0, 0), Is.True);
        Assert.That(u.TryConfirmOldest(Echo(2)), Is.False, "not the oldest");
        Assert.That(u.TryConfirmOldest(Echo(1)), Is.True);
        Assert.That(u.TryConfirmOldest(Echo(2)), Is.True);
        Assert.That(u.Count, Is.EqualTo(1));
    }

    [Test]
    public void AtCapacityNoMoreAreAdded()
    {
        var u = new UnconfirmedFrames(2);
        Assert.That(u.TryAdd(Frame(1), 0, 0) && u.TryAdd(Frame(2), 0, 0), Is.True);
        Assert.That(u.IsFull, Is.True);
        Assert.That(u.TryAdd(Frame(3), 0, 0), Is.False);
        u.TryConfirmOldest(Echo(1));
        Assert.That(u.TryAdd(Frame(3), 0, 0), Is.True);
    }

    [Test]
    public void ALaterEchoAfterDropsRestoresTheOlderOnesAheadOfIt()
    {
        var u = new UnconfirmedFrames(8);
        var q = new CanFrameQueue(4, 0, 8);
        for (uint i = 1; i <= 4; i++) u.TryAdd(Frame(i), dropsSeen: 5, 0);
        EchoConfirmation c = u.Confirm(Echo(3), dropsSeen: 7, q);
        Assert.That(c, Is.EqualTo(new EchoConfirmation(true, 2, 0, 0)));
        Assert.That(Drain(q), Is.EqualTo(new uint[] { 1, 2, 3 }));
        Assert.That(u.Count, Is.EqualTo(1), "frame 4 still awaits its echo");
    }

    [Test]
    public void ALaterEchoWithoutDropsPassesTheOlderOnesOverUnconfirmed()
    {
        var u = new UnconfirmedFrames(8);
        var q = new CanFrameQueue(4, 0, 8);
        for (uint i = 1; i <= 3; i++) u.TryAdd(Frame(i), dropsSeen: 5, 0);
        Assert.That(u.Confirm(Echo(3), dropsSeen: 5, q), Is.EqualTo(new EchoConfirmation(true, 0, 2, 0)));
        Assert.That(Drain(q), Is.EqualTo(new uint[] { 3 }));
        Assert.That(u.Count, Is.Zero);
    }

    [Test]
    public void OnlyFramesSentBeforeTheDropsAreRestored()
    {
        var u = new UnconfirmedFrames(8);
        var q = new CanFrameQueue(4, 0, 8);
        u.TryAdd(Frame(1), dropsSeen: 0, 0); // sent before the drops were seen
        u.TryAdd(Frame(2), dropsSeen: 3, 0); // sent after all of them
        u.TryAdd(Frame(3), dropsSeen: 3, 0);
        Assert.That(u.Confirm(Echo(3), dropsSeen: 3, q), Is.EqualTo(new EchoConfirmation(true, 1, 1, 0)));
        Assert.That(Drain(q), Is.EqualTo(new uint[] { 1, 3 }));
    }

    [Test]
    public void AnEchoOfNoAwaitedFrameIsQueuedAsItIsAndChangesNothing()
    {
        var u = new UnconfirmedFrames(8);
        var q = new CanFrameQueue(4, 0, 8);
        u.TryAdd(Frame(1), 0, 0);
        Assert.That(u.Confirm(Echo(9), dropsSeen: 100, q), Is.EqualTo(new EchoConfirmation(false, 0, 0, 0)));
        Assert.That(Drain(q), Is.EqualTo(new uint[] { 9 }));
        Assert.That(u.Count, Is.EqualTo(1));
    }

    [Test]
    public void RestoredEchoesTheQueueCannotTakeAreCounted()
    {
        var u = new UnconfirmedFrames(8);
        var q = new CanFrameQueue(1, 0, 1);
        for (uint i = 1; i <= 3; i++) u.TryAdd(Frame(i), 0, 0);
        Assert.That(u.Confirm(Echo(3), dropsSeen: 1, q), Is.EqualTo(new EchoConfirmation(true, 2, 0, 1)));
        Assert.That(Drain(q), Is.EqualTo(new uint[] { 1, 2 }));
    }

    [Test]
    public void FramesAreGivenUpOnlyWhenOldEnoughAndFramesWereDroppedSince()
    {
        var u = new UnconfirmedFrames(8);
        u.TryAdd(Frame(1), dropsSeen: 0, timestamp: 100);
        u.TryAdd(Frame(2), dropsSeen: 0, timestamp: 200);
        u.TryAdd(Frame(3), dropsSeen: 0, timestamp: 300);
        var q = new CanFrameQueue(1, 0, 8);
        Assert.That(u.Abandon(sentBefore: 1000, dropsSeen: 0, q), Is.Zero, "nothing dropped: they may be waiting for the bus");
        Assert.That(u.Abandon(sentBefore: 250, dropsSeen: 1, q), Is.EqualTo(2), "the two sent before 250");
        Assert.That(u.Count, Is.EqualTo(1));
        Assert.That(q.TryTake(out CanFrame lost1) && lost1.Id == 1 && lost1.IsLostEcho, Is.True, "each given up goes to the queue as a lost echo, in order");
        Assert.That(q.TryTake(out CanFrame lost2) && lost2.Id == 2 && lost2.IsLostEcho, Is.True);
        Assert.That(u.TryConfirmOldest(Echo(3)), Is.True);
    }

    [Test]
    public void ClearForgetsEverythingAndTheOldestIsNoLongerConfirmed()
    {
        var u = new UnconfirmedFrames(4);
        u.TryAdd(Frame(1), 0, 0);
        u.TryAdd(Frame(2), 0, 0);
        u.Clear();
        Assert.That(u.Count, Is.Zero);
        Assert.That(u.TryConfirmOldest(Echo(1)), Is.False);
        Assert.That(u.TryAdd(Frame(3), 0, 0), Is.True);
        Assert.That(u.TryConfirmOldest(Echo(3)), Is.True);
    }
}

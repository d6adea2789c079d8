using AmpCan.Rpmsg;
using AmpCan.SharedMem.Doorbells;

namespace AmpCan.Tests.Rpmsg;

/// <summary>A sender that never blocks, run by a loop that parks: woken when the peer returns transmit buffers.</summary>
public class TxWaiterTests
{
    private sealed class LoopSender(RpmsgEndpoint ep, RpmsgTxWaiter waiter, int count) : INotificationHandler
    {
        public int Sent;
        public volatile bool Blocked;

        public bool Process()
        {
            int before = Sent;
            while (Sent < count)
            {
                if (!ep.TrySend(BitConverter.GetBytes(Sent)))
                {
                    Blocked = true;
                    break;
                }
                Sent++;
            }
            if (Sent != before && Sent == count) waiter.Disarm();
            return Sent != before;
        }

        public bool ArmNotifications() => Blocked && Sent < count && waiter.Arm();
        public void DisarmNotifications() { }
    }

    [Test]
    public void ALoopWhoseSenderRanOutOfBuffersParksAndWakesWhenThePeerReturnsThem()
    {
        using var link = new RpmsgLink(mode: NotificationMode.Doorbell, hostOptions: new RpmsgHostOptions { TxBufferCount = 4 });
        var held = new List<RpmsgHeldBuffer>();
        int received = 0;
        bool hold = true;
        using RpmsgEndpoint sink = link.Remote.CreateEndpoint("sink", (in RpmsgReceivedMessage m) =>
        {
            Interlocked.Increment(ref received);
            if (Volatile.Read(ref hold)) lock (held) held.Add(m.Hold());
        });
        using RpmsgEndpoint ep = link.Host.CreateEndpoint("src", null, destination: sink.Address);
        using RpmsgTxWaiter waiter = link.Host.CreateTxWaiter();
        var sender = new LoopSender(ep, waiter, count: 10);
        link.HostLoop.Add(sender);
        BusTests.WaitUntil(() => Volatile.Read(ref received) == 4 && sender.Blocked && waiter.IsArmed, "the 4 buffers to be held and the sender to arm");
        long parks = link.HostLoop.Parks;
        Thread.Sleep(100); // a loop spinning for buffers would park (or pass) thousands of times here
        Assert.That(link.HostLoop.Parks - parks, Is.LessThanOrEqualTo(2), "the loop sleeps while the sender waits");

        Volatile.Write(ref hold, false);
        lock (held) foreach (RpmsgHeldBuffer b in held) b.Release();
        BusTests.WaitUntil(() => Volatile.Read(ref received) == 10, "the other 6 messages once the remote returned the buffers");
        BusTests.WaitUntil(() => !waiter.IsArmed, "the sender to disarm once it had sent everything");
        Assert.That(sender.Sent, Is.EqualTo(10));
    }
}

using AmpCan.Rpmsg;
using AmpCan.SharedMem.Doorbells;

namespace AmpCan.Tests.Rpmsg;

/// <summary>A thread waiting for a reply processes the receive ring itself, so the reply costs no hand-off from the loop.</summary>
public class ReplyPollingTests
{
    private static double ShareProcessedOnTheWaitingThread(TimeSpan budget)
    {
        using var link = new RpmsgLink(mode: NotificationMode.Adaptive, hostOptions: new RpmsgHostOptions { ReplyPollBudget = budget });
        int onWaiter = 0, total = 0, waiter = Environment.CurrentManagedThreadId;
        // Every request makes the remote send a note to a callback endpoint, then the reply: whichever thread processes
        // the ring runs the note's callback.
        using RpmsgEndpoint notes = link.Host.CreateEndpoint("notes", (in RpmsgReceivedMessage m) =>
        {
            total++;
            if (Environment.CurrentManagedThreadId == waiter) onWaiter++;
        }, address: 0x600);
        using RpmsgEndpoint echo = link.Remote.CreateEndpoint("echo", (in RpmsgReceivedMessage m) =>
        {
            m.Endpoint.PostTo(0x600, "note"u8);
            m.Endpoint.PostTo(m.Source, m.Payload);
        });
        using RpmsgEndpoint ep = link.Host.CreateEndpoint("client", null, destination: echo.Address);
        for (int i = 0; i < 300; i++)
        {
            ep.Send(BitConverter.GetBytes(i));
            using RpmsgMessage reply = ep.Receive(TimeSpan.FromSeconds(20));
            Assert.That(BitConverter.ToInt32(reply.Payload), Is.EqualTo(i));
        }
        BusTests.WaitUntil(() => Volatile.Read(ref total) == 300, "every note");
        return Volatile.Read(ref onWaiter) / 300.0;
    }

    [Test]
    public void AWaitingThreadProcessesTheRingItself()
    {
        Assert.That(ShareProcessedOnTheWaitingThread(TimeSpan.FromMilliseconds(5)), Is.GreaterThan(0.5),
            "most replies are taken off the ring by the thread that waits for them");
    }

    [Test]
    public void WithoutAPollBudgetTheLoopHandsEveryReplyOver()
    {
        Assert.That(ShareProcessedOnTheWaitingThread(TimeSpan.Zero), Is.Zero);
    }
}

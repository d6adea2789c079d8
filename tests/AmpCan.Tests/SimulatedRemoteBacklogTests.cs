using AmpCan.Host.Boards;
using AmpCan.Remoteproc.Boards;
using AmpCan.Rpmsg;

namespace AmpCan.Tests.Remoteproc;

/// <summary>The simulated remote's echo under a host that sends faster than it takes replies: slowed, never lossy.</summary>
public class SimulatedRemoteBacklogTests
{
    [Test]
    public void AHostThatHoldsItsRepliesSlowsItselfDownAndLosesNone()
    {
        using BoardHost host = BoardHost.Start(BoardDescriptor.Load(Path.Combine(TestContext.CurrentContext.TestDirectory, "boards", "sim.json")),
            new BoardHostOptions { Remote = RemoteKind.Simulated });
        Assert.That(host.SimulatedRemote!.Ready.Wait(TimeSpan.FromSeconds(20)) && host.SimulatedRemote.Ready.Result, Is.True);
        var held = new List<RpmsgHeldBuffer>();
        var seen = new List<int>();
        bool hold = true;
        using RpmsgEndpoint ep = host.Rpmsg.CreateEndpoint("flooder", (in RpmsgReceivedMessage m) =>
        {
            lock (seen) seen.Add(BitConverter.ToInt32(m.Payload));
            if (Volatile.Read(ref hold)) lock (held) held.Add(m.Hold());
        }, destination: host.SimulatedRemote.Echo!.Address);
        const int Requests = 3000; // more than the host's 256 receive buffers and the remote's send queue of 1024 together
        Task sender = Task.Run(() => { for (int i = 0; i < Requests; i++) ep.Send(BitConverter.GetBytes(i), TimeSpan.FromSeconds(30)); });
        // Hold every reply until the remote has taken more requests than the host's receive buffers and its own send
        // queue (1024) can answer: from then on its echo must keep requests (the host's buffers) instead of replies.
        RpmsgStatistics remote = host.SimulatedRemote.Rpmsg.Statistics;
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (remote.MessagesReceived < 256 + 1024 + 100 && sw.Elapsed < TimeSpan.FromSeconds(20)) Thread.Yield();
        Assert.That(remote.MessagesReceived, Is.GreaterThanOrEqualTo(256 + 1024 + 100));
        Assert.That(sender.IsCompleted, Is.False, "with every reply held, the remote keeps the host's requests: the host's sends wait");
        Assert.That(remote.PostsRefusedQueueFull, Is.GreaterThan(0), "the remote's send queue did fill");
        Volatile.Write(ref hold, false);
        lock (held) foreach (RpmsgHeldBuffer b in held) b.Release();
        Assert.That(sender.Wait(TimeSpan.FromSeconds(60)), Is.True);
        while (seen.Count < Requests && sw.Elapsed < TimeSpan.FromSeconds(60)) Thread.Yield();
        lock (seen) Assert.That(seen, Is.EqualTo(Enumerable.Range(0, Requests)), "every reply, in order");
    }
}

using AmpCan.Host.Service;
using AmpCan.Remoteproc.Boards;
using Microsoft.Extensions.Logging.Abstractions;

namespace AmpCan.Tests.Host;

public class ClientSampleTests
{
    [Test]
    public void ClientSampleTalksToTheRemoteUntilItsLimit()
    {
        string board = Path.Combine(TestContext.CurrentContext.TestDirectory, "boards", "sim.json");
        using BoardHost host = BoardHost.Start(BoardDescriptor.Load(board), new BoardHostOptions { Remote = RemoteKind.Simulated });
        var sample = new RpmsgClientSample(host.Rpmsg, NullLogger.Instance);
        using var finished = new ManualResetEventSlim();
        sample.Finished += finished.Set;
        sample.Register();
        Assert.That(finished.Wait(TimeSpan.FromSeconds(30)), Is.True, $"the conversation stalled after {sample.Received} messages");
        Assert.That(sample.Received, Is.EqualTo(RpmsgClientSample.MessageLimit));
        // Linux's sample answers every message but the last: the remote got the hello and 99 answers.
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (host.SimulatedRemote!.Rpmsg.Statistics.MessagesReceived < 100 && sw.Elapsed < TimeSpan.FromSeconds(10)) Thread.Yield();
        Assert.That(host.SimulatedRemote.Rpmsg.Statistics.MessagesReceived, Is.EqualTo(100));
    }
}

using AmpCan.Host.Boards;
using AmpCan.Host.Service;
using AmpCan.Remoteproc.Boards;
using AmpCan.Simulation;
using AmpCan.Rpmsg;
using Microsoft.Extensions.Logging.Abstractions;

namespace AmpCan.Tests.Host;

public class ClientSampleTests
{
    private static string SimBoard => Path.Combine(TestContext.CurrentContext.TestDirectory, "boards", "sim.json");

    private static void WaitFor(Func<bool> condition, string what, int seconds = 20)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(seconds)) Assert.Fail($"timed out waiting for {what}");
            Thread.Yield();
        }
    }

    [Test]
    public void ClientSampleTalksToTheRemoteUntilItsLimit()
    {
        using BoardHost host = BoardHost.Start(BoardDescriptor.Load(SimBoard), new BoardHostOptions { Remote = RemoteKind.Simulated });
        var sample = new RpmsgClientSample(host.Rpmsg, NullLogger.Instance);
        using var finished = new ManualResetEventSlim();
        sample.Finished += finished.Set;
        sample.Register();
        Assert.That(finished.Wait(TimeSpan.FromSeconds(30)), Is.True, $"the conversation stalled after {sample.Received} messages");
        Assert.That(sample.Received, Is.EqualTo(RpmsgClientSample.MessageLimit));
        // Linux's sample answers every message but the last: the remote got the hello and 99 answers.
        WaitFor(() => host.SimulatedRemote!.Rpmsg.Statistics.MessagesReceived >= 100, "the remote to get 100 messages");
        Assert.That(host.SimulatedRemote!.Rpmsg.Statistics.MessagesReceived, Is.EqualTo(100));
    }

    /// <summary>A remote offering the sample's channel itself, so the test decides what it sends and whether it holds what it gets.</summary>
    private static (BoardHost Host, RpmsgEndpoint Remote, List<string> Got) HostWithScriptedSampleRemote(int hostTxBuffers, bool holdEverything)
    {
        BoardDescriptor board = BoardDescriptor.Load(SimBoard);
        board = board with { Rpmsg = board.Rpmsg with { TxBuffers = hostTxBuffers } };
        var host = BoardHost.Start(board, new BoardHostOptions { Remote = RemoteKind.Simulated, Firmware = new SimulatedFirmware { SampleService = null } });
        Assert.That(host.SimulatedRemote!.Ready.Wait(TimeSpan.FromSeconds(20)) && host.SimulatedRemote.Ready.Result, Is.True);
        var got = new List<string>();
        RpmsgEndpoint remote = host.SimulatedRemote.Rpmsg.CreateEndpoint(RpmsgClientSample.ChannelName, (in RpmsgReceivedMessage m) =>
        {
            lock (got) got.Add(System.Text.Encoding.ASCII.GetString(m.Payload));
            if (holdEverything) m.Hold(); // the remote keeps the host's transmit buffers
        }, announce: true);
        return (host, remote, got);
    }

    [Test]
    public void AfterItsLimitTheSampleSaysGoodbyeInsteadOfReplyingForever()
    {
        var (host, remote, got) = HostWithScriptedSampleRemote(hostTxBuffers: 256, holdEverything: false);
        using (host)
        {
            var sample = new RpmsgClientSample(host.Rpmsg, NullLogger.Instance);
            sample.Register();
            WaitFor(() => { lock (got) return got.Count == 1; }, "the greeting");
            for (int i = 0; i < 150; i++) Assert.That(remote.Post("hello from the remote"u8), Is.True);
            WaitFor(() => sample.Received == 150, "150 messages at the host");
            WaitFor(() => { lock (got) return got.Count >= 100; }, "the replies");
            Assert.That(sample.Replies, Is.EqualTo(100), "the greeting and 99 replies; from the 100th message on, only goodbye");
            Thread.Sleep(200); // nothing more may come: a reply after the limit would land here
            lock (got) Assert.That(got, Has.Count.EqualTo(100));
        }
    }

    [Test]
    public void ARemoteHoldingTheHostsBuffersDelaysTheSamplesRepliesNotTheDevice()
    {
        var (host, remote, got) = HostWithScriptedSampleRemote(hostTxBuffers: 2, holdEverything: true);
        using (host)
        {
            var sample = new RpmsgClientSample(host.Rpmsg, NullLogger.Instance);
            sample.Register();
            WaitFor(() => { lock (got) return got.Count == 1; }, "the greeting");
            for (int i = 0; i < 10; i++) remote.Post("more"u8);
            WaitFor(() => sample.Received == 10, "10 messages at the host");
            // The greeting and the first reply reach the remote on its own loop, after the host counted the tenth message.
            WaitFor(() => { lock (got) return got.Count == 2; }, "the greeting and the first reply at the remote");
            // Both host transmit buffers are held by the remote now; the sample's other replies wait, posted.
            using RpmsgEndpoint other = host.Rpmsg.CreateEndpoint("other", null, address: 0x700);
            using RpmsgEndpoint talker = host.SimulatedRemote!.Rpmsg.CreateEndpoint("talker", null, destination: 0x700);
            var sw = System.Diagnostics.Stopwatch.StartNew();
            talker.Post("the device still moves"u8);
            using RpmsgMessage m = other.Receive(TimeSpan.FromSeconds(20));
            Assert.That(sw.Elapsed, Is.LessThan(TimeSpan.FromSeconds(2)), "a waiting reply must not stall the host's receive path (it used to cost 15 s per message)");
            Assert.That(m.Payload.ToArray(), Is.EqualTo("the device still moves"u8.ToArray()));
            lock (got) Assert.That(got, Has.Count.EqualTo(2), "only two host buffers, both held: no third reply got through");
        }
    }
}

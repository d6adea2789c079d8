using AmpCan.Host.Boards;
using System.Text;
using AmpCan.Remoteproc.Boards;
using AmpCan.Simulation;
using AmpCan.Rpmsg;
using AmpCan.SharedMem.Doorbells;

namespace AmpCan.Tests.Remoteproc;

/// <summary>The simulated remote behind a real BoardHost on the sim board, scripted to misbehave.</summary>
public class SimulatedRemoteTests
{
    private static BoardHost StartSim(NotificationMode mode = NotificationMode.Adaptive)
    {
        BoardDescriptor board = BoardDescriptor.Load(Path.Combine(TestContext.CurrentContext.TestDirectory, "boards", "sim.json"));
        BoardHost host = BoardHost.Start(board, new BoardHostOptions { Mode = mode });
        Assert.That(host.SimulatedRemote!.Ready.Wait(TimeSpan.FromSeconds(20)) && host.SimulatedRemote.Ready.Result, Is.True);
        return host;
    }

    internal static RpmsgChannel Channel(RpmsgBus bus, string name)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(20))
        {
            RpmsgChannel? c = bus.Channels.FirstOrDefault(x => x.Name == name);
            if (c is not null) return c;
            Thread.Yield();
        }
        Assert.Fail($"channel {name} never appeared");
        return null!;
    }

    private static RpmsgMessage Receive(RpmsgEndpoint ep) => ep.ReceiveAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20)).Result;

    [Test]
    public void AnnouncesEchoSampleAndRawAndEchoes()
    {
        using BoardHost host = StartSim();
        foreach (string name in new[] { "rpmsg-echo", "rpmsg-client-sample", "rpmsg-raw" }) Channel(host.Rpmsg, name);
        using RpmsgEndpoint ep = host.Rpmsg.CreateEndpoint("rpmsg-echo", null);
        ep.Send("ping"u8);
        using RpmsgMessage m = Receive(ep);
        Assert.That(Encoding.ASCII.GetString(m.Payload), Is.EqualTo("ping"));
    }

    [Test]
    public void SampleServiceHoldsOnlyItsFirstReplyWhenTheFirmwareSaysSo()
    {
        // What a QEMU guest's rpmsg_client_sample needs (SimulatedFirmware.SampleFirstReplyDelay): the reply to the message
        // its probe sends must not come while the probe still holds the bus's tx_lock; later replies come at once.
        BoardDescriptor board = BoardDescriptor.Load(Path.Combine(TestContext.CurrentContext.TestDirectory, "boards", "sim.json"));
        var delay = TimeSpan.FromMilliseconds(300);
        using BoardHost host = BoardHost.Start(board, new BoardHostOptions { Firmware = SimulatedFirmware.For(board) with { SampleFirstReplyDelay = delay } });
        RpmsgChannel ch = Channel(host.Rpmsg, "rpmsg-client-sample");
        using RpmsgEndpoint ep = host.Rpmsg.CreateEndpoint("probe", null, destination: ch.RemoteAddress);
        var first = System.Diagnostics.Stopwatch.StartNew();
        ep.Send("hello world!"u8);
        using (RpmsgMessage m = Receive(ep)) Assert.That(Encoding.ASCII.GetString(m.Payload), Is.EqualTo("hello world! #1"));
        // Timers run on the millisecond tick and may fire a little early against the stopwatch: a few ms of slack.
        Assert.That(first.Elapsed, Is.GreaterThanOrEqualTo(delay - TimeSpan.FromMilliseconds(20)));
        var second = System.Diagnostics.Stopwatch.StartNew();
        ep.Send("hello world!"u8);
        using (RpmsgMessage m = Receive(ep)) Assert.That(Encoding.ASCII.GetString(m.Payload), Is.EqualTo("hello world! #2"));
        Assert.That(second.Elapsed, Is.LessThan(delay), "only the first reply waits");
    }

    [Test]
    public void SampleServiceCountsUpToItsLimit()
    {
        using BoardHost host = StartSim();
        RpmsgChannel ch = Channel(host.Rpmsg, "rpmsg-client-sample");
        using RpmsgEndpoint ep = host.Rpmsg.CreateEndpoint("probe", null, destination: ch.RemoteAddress);
        for (int i = 1; i <= 100; i++)
        {
            ep.Send("hello world!"u8);
            using RpmsgMessage m = Receive(ep);
            Assert.That(Encoding.ASCII.GetString(m.Payload), Is.EqualTo($"hello world! #{i}"));
        }
        ep.Send("hello world!"u8);
        RpmsgEndpoint echo = host.Rpmsg.CreateEndpoint("rpmsg-echo", null);
        echo.Send("after"u8);
        using (RpmsgMessage after = Receive(echo)) Assert.That(after.Length, Is.EqualTo(5), "the echo still answers");
        Assert.That(ep.TryReceive(out _), Is.False, "after 100 replies the sample is silent");
    }

    [Test]
    public void LatencyDelaysReplies()
    {
        using BoardHost host = StartSim();
        host.SimulatedRemote!.ReplyLatency = TimeSpan.FromMilliseconds(100);
        using RpmsgEndpoint ep = host.Rpmsg.CreateEndpoint("rpmsg-echo", null);
        Channel(host.Rpmsg, "rpmsg-echo");
        ep.Destination = Channel(host.Rpmsg, "rpmsg-echo").RemoteAddress;
        var sw = System.Diagnostics.Stopwatch.StartNew();
        ep.Send("slow"u8);
        using RpmsgMessage m = Receive(ep);
        Assert.That(sw.Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(95)));
    }

    [Test]
    public void SilentRemoteAnswersNothingUntilItWakes()
    {
        using BoardHost host = StartSim();
        RpmsgChannel ch = Channel(host.Rpmsg, "rpmsg-echo");
        using RpmsgEndpoint ep = host.Rpmsg.CreateEndpoint("c", null, destination: ch.RemoteAddress);
        host.SimulatedRemote!.Silent = true;
        ep.Send("ignored"u8);
        // Then a message for an address where the remote has no endpoint: its loop thread takes them in ring order, so
        // once it has dropped this one it is done with "ignored" and the silence can end without racing its callback.
        ep.SendTo(0x7FFF_0000, "marker"u8);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (host.SimulatedRemote.Rpmsg.Statistics.DroppedUnknownDestination < 1 && sw.Elapsed < TimeSpan.FromSeconds(20)) Thread.Yield();
        Assert.That(host.SimulatedRemote.Rpmsg.Statistics.DroppedUnknownDestination, Is.EqualTo(1), "the remote took the marker");
        Assert.That(host.SimulatedRemote.Rpmsg.Statistics.MessagesReceived, Is.EqualTo(1), "the silent remote received the message");
        host.SimulatedRemote.Silent = false;
        ep.Send("answered"u8);
        using RpmsgMessage m = Receive(ep);
        Assert.That(Encoding.ASCII.GetString(m.Payload), Is.EqualTo("answered"), "the first message got no reply");
    }

    [Test]
    public void FloodArrivesCompleteAndInOrder()
    {
        using BoardHost host = StartSim(NotificationMode.Doorbell);
        int next = 0, errors = 0;
        using var done = new ManualResetEventSlim();
        using RpmsgEndpoint sink = host.Rpmsg.CreateEndpoint("sink", (in RpmsgReceivedMessage m) =>
        {
            if (BitConverter.ToInt32(m.Payload) != next) errors++;
            if (++next == 20_000) done.Set();
        });
        Channel(host.Rpmsg, "rpmsg-raw");
        host.SimulatedRemote!.Flood(sink.Address, 20_000, 64);
        Assert.That(done.Wait(TimeSpan.FromSeconds(60)), Is.True, $"got {next}");
        Assert.That(errors, Is.Zero);
    }

    [Test]
    public void GarbageCostsAMessageOrTheDeviceNeverTheProcess()
    {
        using BoardHost host = StartSim();
        Channel(host.Rpmsg, "rpmsg-raw");
        host.SimulatedRemote!.InjectGarbage(GarbageKind.NameService);
        host.SimulatedRemote.InjectGarbage(GarbageKind.OversizedHeader);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while ((host.Rpmsg.Statistics.NameServiceRejected < 1 || host.Rpmsg.Statistics.DroppedMalformed < 1) && sw.Elapsed < TimeSpan.FromSeconds(20)) Thread.Yield();
        Assert.That(host.Rpmsg.Statistics.NameServiceRejected, Is.EqualTo(1));
        Assert.That(host.Rpmsg.Statistics.DroppedMalformed, Is.EqualTo(1));
        Assert.That(host.Rpmsg.State, Is.EqualTo(RpmsgDeviceState.Ready));

        var failed = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        host.Rpmsg.DeviceFailed += e => failed.TrySetResult(e);
        host.SimulatedRemote.InjectGarbage(GarbageKind.UsedRing);
        Assert.That(failed.Task.Wait(TimeSpan.FromSeconds(20)), Is.True);
        Assert.That(failed.Task.Result, Is.TypeOf<AmpCan.Vring.VirtqueueException>());
        Assert.That(host.Rpmsg.Channels, Is.Empty, "a failed device drops its channels");
    }

    [Test]
    public void CrashedRemoteStopsAnsweringAndSendsTimeOutCleanly()
    {
        using BoardHost host = StartSim();
        RpmsgChannel ch = Channel(host.Rpmsg, "rpmsg-echo");
        using RpmsgEndpoint ep = host.Rpmsg.CreateEndpoint("c", null, destination: ch.RemoteAddress);
        host.SimulatedRemote!.Crash();
        int sent = 0;
        var e = Assert.Throws<RpmsgException>(() => { while (true) { ep.Send("x"u8, TimeSpan.FromMilliseconds(300)); sent++; } })!;
        Assert.That(e.Error, Is.EqualTo(RpmsgError.Timeout));
        Assert.That(sent, Is.EqualTo(256), "exactly the transmit buffers went out before sends blocked");
    }
}

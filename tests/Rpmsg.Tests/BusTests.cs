using System.Text;
using AmpCan.Rpmsg;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Vring;
using AmpCan.Vring.Wire;

namespace AmpCan.Tests.Rpmsg;

public class BusTests
{
    private static RpmsgEndpoint RemoteEcho(RpmsgLink link, string name = "rpmsg-echo") =>
        link.Remote.CreateEndpoint(name, (in RpmsgReceivedMessage m) => m.Endpoint.PostTo(m.Source, m.Payload), announce: true);

    private static Task<RpmsgChannel> NextChannel(RpmsgBus bus, string name)
    {
        var tcs = new TaskCompletionSource<RpmsgChannel>(TaskCreationOptions.RunContinuationsAsynchronously);
        bus.ChannelCreated += c => { if (c.Name == name) tcs.TrySetResult(c); };
        foreach (RpmsgChannel c in bus.Channels) if (c.Name == name) tcs.TrySetResult(c);
        return tcs.Task;
    }

    [Test]
    public async Task EchoThroughAnAnnouncedChannel()
    {
        using var link = new RpmsgLink();
        Task<RpmsgChannel> announced = NextChannel(link.Host, "rpmsg-echo");
        using RpmsgEndpoint echo = RemoteEcho(link);
        RpmsgChannel ch = RpmsgLink.Await(announced, "the echo announcement");
        Assert.That(ch.RemoteAddress, Is.EqualTo(echo.Address));
        Assert.That(echo.Address, Is.GreaterThanOrEqualTo(1024u), "dynamic addresses start at 1024");

        using RpmsgEndpoint ep = link.Host.CreateEndpoint("rpmsg-echo", callback: null);
        Assert.That(ep.Destination, Is.EqualTo(ch.RemoteAddress), "an unbound endpoint binds to the announced channel of its name");
        ep.Send("hello remote"u8);
        using RpmsgMessage reply = await ep.ReceiveAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.That(Encoding.ASCII.GetString(reply.Payload), Is.EqualTo("hello remote"));
        Assert.That(reply.Source, Is.EqualTo(echo.Address));
    }

    [Test]
    public async Task ConsumedHostBuffersComeBackWithTheirSizeAsOpenAmpExpects()
    {
        // OpenAMP's driver role takes a used tx buffer's length as its capacity; 0 (the spec's value for a
        // device-readable buffer) makes it compute a negative payload size and send garbage. So the remote returns the
        // length the driver posted, as OpenAMP's own remote does.
        using var link = new RpmsgLink();
        using RpmsgEndpoint echo = RemoteEcho(link);
        using RpmsgEndpoint ep = link.Host.CreateEndpoint("client", null, destination: echo.Address);
        for (int i = 0; i < 3; i++)
        {
            ep.Send("x"u8);
            using RpmsgMessage reply = await ep.ReceiveAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        }
        var hostTx = SplitRing.Legacy(link.Memory, RpmsgLink.Base + 0x8000, 256, 0x1000);
        WaitUntil(() => hostTx.Used.ReadU16(SplitRingOffsets.Index) >= 3, "three used host buffers");
        int used = hostTx.Used.ReadU16(SplitRingOffsets.Index);
        for (int i = 0; i < used; i++)
        {
            VirtqUsedElement e = hostTx.Used.Read<VirtqUsedElement>(SplitRingOffsets.UsedEntry(i));
            uint posted = hostTx.Descriptors.Read<VirtqDescriptor>(e.Id * (ulong)VirtqDescriptor.Size).Length;
            Assert.That(posted, Is.EqualTo(16u + 1), "Linux (and we) post header + payload; OpenAMP posts the whole buffer");
            Assert.That(e.Length, Is.EqualTo(posted), $"used entry {i} carries the posted length");
        }
    }

    [TestCase(0x40u)]     // a fixed low address (the direct table)
    [TestCase(0x7FFu)]    // the last address of the direct table
    [TestCase(0x800u)]    // the first address past it (the hash table)
    [TestCase(0x10000u)]  // far above it
    public async Task EndpointsAtAnyAddressReceiveAndStopReceivingWhenDestroyed(uint address)
    {
        using var link = new RpmsgLink();
        using RpmsgEndpoint sender = link.Remote.CreateEndpoint("sender", null);
        RpmsgEndpoint ep = link.Host.CreateEndpoint("fixed", null, address: address);
        using (RpmsgEndpoint neighbour = link.Host.CreateEndpoint("neighbour", null, address: address + 1))
        {
            sender.SendTo(address, "to the endpoint"u8);
            sender.SendTo(address + 1, "to its neighbour"u8);
            using RpmsgMessage m = await ep.ReceiveAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20));
            using RpmsgMessage n = await neighbour.ReceiveAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20));
            Assert.That(Encoding.ASCII.GetString(m.Payload), Is.EqualTo("to the endpoint"));
            Assert.That(Encoding.ASCII.GetString(n.Payload), Is.EqualTo("to its neighbour"));
        }
        ep.Dispose();
        long before = link.Host.Statistics.DroppedUnknownDestination;
        sender.SendTo(address, "nobody home"u8);
        sender.SendTo(address + 1, "nobody home"u8);
        WaitUntil(() => link.Host.Statistics.DroppedUnknownDestination == before + 2, "both messages dropped as unknown");
    }

    [Test]
    public async Task ManyEndpointsEachGetTheirOwnReplies()
    {
        using var link = new RpmsgLink();
        using RpmsgEndpoint echo = RemoteEcho(link);
        var eps = Enumerable.Range(0, 40).Select(i => link.Host.CreateEndpoint($"client{i}", null, destination: echo.Address)).ToList();
        Assert.That(eps.Select(e => e.Address).Distinct().Count(), Is.EqualTo(40));
        for (int round = 0; round < 10; round++)
            foreach (var (ep, i) in eps.Select((e, i) => (e, i)))
                ep.Send(Encoding.ASCII.GetBytes($"{i}:{round}"));
        foreach (var (ep, i) in eps.Select((e, i) => (e, i)))
            for (int round = 0; round < 10; round++)
            {
                using RpmsgMessage m = await ep.ReceiveAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20));
                Assert.That(Encoding.ASCII.GetString(m.Payload), Is.EqualTo($"{i}:{round}"));
            }
        foreach (var ep in eps) ep.Dispose();
        Assert.That(link.Host.Statistics.MessagesReceived, Is.EqualTo(400 + 1), "the 400 replies and the echo's announcement to the name service");
    }

    [Test]
    public void NameServiceCreatesAndDestroysChannelsBothWays()
    {
        using var link = new RpmsgLink();
        var removed = new TaskCompletionSource<RpmsgChannel>(TaskCreationOptions.RunContinuationsAsynchronously);
        link.Host.ChannelRemoved += c => removed.TrySetResult(c);
        Task<RpmsgChannel> created = NextChannel(link.Host, "svc-a");
        RpmsgEndpoint a = link.Remote.CreateEndpoint("svc-a", (in RpmsgReceivedMessage _) => { }, announce: true);
        RpmsgLink.Await(created, "svc-a created");
        a.Dispose();
        RpmsgChannel gone = RpmsgLink.Await(removed.Task, "svc-a destroyed");
        Assert.That(gone.Name, Is.EqualTo("svc-a"));
        Assert.That(link.Host.Channels, Is.Empty);

        // The host announces too; the remote learns the channel.
        Task<RpmsgChannel> onRemote = NextChannel(link.Remote, "host-svc");
        using RpmsgEndpoint h = link.Host.CreateEndpoint("host-svc", (in RpmsgReceivedMessage _) => { }, address: 0x2000, announce: true);
        Assert.That(RpmsgLink.Await(onRemote, "host announcement").RemoteAddress, Is.EqualTo(0x2000u));
    }

    [Test]
    public void DriverProbesChannelsAndItsEndpointDiesWithThem()
    {
        using var link = new RpmsgLink();
        var probed = new TaskCompletionSource<RpmsgEndpoint>(TaskCreationOptions.RunContinuationsAsynchronously);
        link.Host.RegisterDriver("rpmsg-client-sample", ch =>
        {
            RpmsgEndpoint ep = link.Host.CreateEndpoint(ch.Name, (in RpmsgReceivedMessage _) => { }, destination: ch.RemoteAddress);
            probed.TrySetResult(ep);
            return ep;
        });
        RpmsgEndpoint svc = link.Remote.CreateEndpoint("rpmsg-client-sample", (in RpmsgReceivedMessage _) => { }, announce: true);
        RpmsgEndpoint driverEp = RpmsgLink.Await(probed.Task, "driver probe");
        Assert.That(driverEp.Destination, Is.EqualTo(svc.Address));
        var removed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        link.Host.ChannelRemoved += _ => removed.TrySetResult();
        svc.Dispose();
        RpmsgLink.Await(removed.Task.ContinueWith(_ => true), "channel removal");
        Assert.That(driverEp.IsDestroyed, Is.True);
    }

    [Test]
    public void OversizedPayloadIsRefusedWithEmsgsize()
    {
        using var link = new RpmsgLink();
        using RpmsgEndpoint ep = link.Host.CreateEndpoint("x", null, destination: 0x400);
        Assert.That(ep.Mtu, Is.EqualTo(496));
        Assert.That(ep.TrySend(new byte[496]), Is.True);
        var e = Assert.Throws<RpmsgException>(() => ep.Send(new byte[497]))!;
        Assert.Multiple(() =>
        {
            Assert.That(e.Error, Is.EqualTo(RpmsgError.MessageTooLarge));
            Assert.That(e.Errno, Is.EqualTo(90));
            Assert.That(e.Message, Does.Contain("497").And.Contain("496"));
        });
    }

    [Test]
    public void ConfigurableBufferSizesChangeTheMtu()
    {
        using var link = new RpmsgLink(hostOptions: new RpmsgHostOptions { RxBufferCount = 16, RxBufferSize = 64, TxBufferCount = 8, TxBufferSize = 128 });
        using RpmsgEndpoint echo = RemoteEcho(link);
        using RpmsgEndpoint ep = link.Host.CreateEndpoint("x", null, destination: echo.Address);
        Assert.That(ep.Mtu, Is.EqualTo(112));
        ep.Send(new byte[48]);
        using RpmsgMessage m = RpmsgLink.Await(ep.ReceiveAsync().AsTask(), "the echo");
        Assert.That(m.Length, Is.EqualTo(48));
        // The remote writes into 64-byte host buffers: its MTU follows them, and a 49-byte reply is refused.
        Assert.That(echo.Mtu, Is.EqualTo(48));
        var e = Assert.Throws<RpmsgException>(() => echo.SendTo(ep.Address, new byte[49]))!;
        Assert.That(e.Error, Is.EqualTo(RpmsgError.MessageTooLarge));

        // Larger host buffers than the remote expects (512) are used whole.
        using var big = new RpmsgLink(hostOptions: new RpmsgHostOptions { RxBufferCount = 16, RxBufferSize = 2048 });
        using RpmsgEndpoint bigEcho = RemoteEcho(big);
        using RpmsgEndpoint bigEp = big.Host.CreateEndpoint("y", null, destination: bigEcho.Address);
        bigEp.Send("fill the prefetch"u8);
        using (RpmsgMessage first = RpmsgLink.Await(bigEp.ReceiveAsync().AsTask(), "the first echo")) { }
        Assert.That(bigEcho.Mtu, Is.EqualTo(2032));
        bigEcho.SendTo(bigEp.Address, new byte[2000]);
        using RpmsgMessage large = RpmsgLink.Await(bigEp.ReceiveAsync().AsTask(), "the 2000-byte message");
        Assert.That(large.Length, Is.EqualTo(2000));
    }

    [Test]
    public void AddressRulesAreEnforced()
    {
        using var link = new RpmsgLink();
        using RpmsgEndpoint a = link.Host.CreateEndpoint("a", null, address: 0x500);
        Assert.That(Assert.Throws<RpmsgException>(() => link.Host.CreateEndpoint("b", null, address: 0x500))!.Error, Is.EqualTo(RpmsgError.InvalidAddress));
        Assert.That(Assert.Throws<RpmsgException>(() => a.Send("x"u8))!.Error, Is.EqualTo(RpmsgError.InvalidAddress), "no destination yet");
        Assert.That(Assert.Throws<RpmsgException>(() => a.SendTo(RpmsgAddress.Any, "x"u8))!.Error, Is.EqualTo(RpmsgError.InvalidAddress));
        Assert.Throws<ArgumentException>(() => link.Host.CreateEndpoint(new string('n', 32), null));
    }

    [Test]
    public void SendBeforeDriverOkIsRefused()
    {
        using var link = new RpmsgLink(startRemote: false);
        using RpmsgEndpoint ep = link.Remote.CreateEndpoint("early", null, destination: 0x400);
        var e = Assert.Throws<RpmsgException>(() => ep.Send("x"u8))!;
        Assert.That(e.Error, Is.EqualTo(RpmsgError.NotReady));
    }

    [Test]
    public void TrySendFailsAtOnceAndBlockingSendTimesOutWhenNoBufferIsFree()
    {
        using var link = new RpmsgLink(hostOptions: new RpmsgHostOptions { TxBufferCount = 4 });
        var held = new List<RpmsgHeldBuffer>();
        using RpmsgEndpoint sink = link.Remote.CreateEndpoint("sink", (in RpmsgReceivedMessage m) => { lock (held) held.Add(m.Hold()); });
        using RpmsgEndpoint ep = link.Host.CreateEndpoint("src", null, destination: sink.Address);
        for (int i = 0; i < 4; i++) ep.Send(new[] { (byte)i });
        WaitUntil(() => { lock (held) return held.Count == 4; }, "the remote to hold 4 messages");

        Assert.That(ep.TrySend("no room"u8), Is.False, "all 4 transmit buffers are held by the remote");
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var e = Assert.Throws<RpmsgException>(() => ep.Send("late"u8, TimeSpan.FromMilliseconds(200)))!;
        Assert.That(e.Error, Is.EqualTo(RpmsgError.Timeout));
        Assert.That(sw.Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(190)));

        // A blocked sender wakes when the remote releases a buffer.
        var blocked = Task.Run(() => ep.Send("waited"u8, TimeSpan.FromSeconds(20)));
        WaitUntil(() => link.Host.Statistics.SendsThatWaited >= 2, "the sender to block");
        lock (held) { held[0].Release(); }
        Assert.That(blocked.Wait(TimeSpan.FromSeconds(20)), Is.True, "release of a held buffer frees a transmit buffer");
        lock (held)
        {
            Assert.Throws<InvalidOperationException>(() => held[0].Release(), "double release is refused");
            Assert.That(held[1].Payload.ToArray(), Is.EqualTo(new byte[] { 1 }), "a held buffer still shows its payload");
        }
    }

    [Test]
    public void BlockingSendCanBeCancelled()
    {
        using var link = new RpmsgLink(hostOptions: new RpmsgHostOptions { TxBufferCount = 1 });
        var held = new List<RpmsgHeldBuffer>();
        using RpmsgEndpoint sink = link.Remote.CreateEndpoint("sink", (in RpmsgReceivedMessage m) => { lock (held) held.Add(m.Hold()); });
        using RpmsgEndpoint ep = link.Host.CreateEndpoint("src", null, destination: sink.Address);
        ep.Send("1"u8);
        using var cts = new CancellationTokenSource();
        var blocked = Task.Run(() => ep.Send("2"u8, Timeout.InfiniteTimeSpan, cts.Token)); // waits without a deadline, until cancelled
        WaitUntil(() => link.Host.Statistics.SendsThatWaited >= 1, "the sender to block");
        cts.Cancel();
        var e = Assert.Throws<AggregateException>(() => blocked.Wait(TimeSpan.FromSeconds(20)))!.InnerException as RpmsgException;
        Assert.That(e?.Error, Is.EqualTo(RpmsgError.Cancelled));
    }

    [Test]
    public void ZeroCopySendWritesStraightIntoSharedMemory()
    {
        using var link = new RpmsgLink();
        var got = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        using RpmsgEndpoint sink = link.Remote.CreateEndpoint("sink", (in RpmsgReceivedMessage m) => got.TrySetResult(m.Payload.ToArray()));
        using RpmsgEndpoint ep = link.Host.CreateEndpoint("src", null, destination: sink.Address);
        RpmsgTxBuffer buf = ep.GetTxBuffer();
        Assert.That(buf.Capacity, Is.EqualTo(496));
        "zero-copy"u8.CopyTo(buf.Payload);
        ep.SendNoCopy(buf, 9);
        Assert.That(RpmsgLink.Await(got.Task, "zero-copy message"), Is.EqualTo("zero-copy"u8.ToArray()));
        Assert.Throws<InvalidOperationException>(() => ep.SendNoCopy(buf, 9), "a sent buffer cannot be sent again");
        Assert.Throws<InvalidOperationException>(() => ep.ReleaseTxBuffer(buf));

        Assert.That(ep.TryGetTxBuffer(out RpmsgTxBuffer spare), Is.True);
        ep.ReleaseTxBuffer(spare);
        Assert.Throws<InvalidOperationException>(() => _ = spare.Payload, "a released buffer is no longer writable");
    }

    [Test]
    public void HeldReceiveBufferIsReusedOnlyAfterRelease()
    {
        using var link = new RpmsgLink(hostOptions: new RpmsgHostOptions { RxBufferCount = 2 });
        var held = new List<RpmsgHeldBuffer>();
        int seen = 0;
        using RpmsgEndpoint ep = link.Host.CreateEndpoint("keeper", (in RpmsgReceivedMessage m) =>
        {
            Interlocked.Increment(ref seen);
            lock (held) held.Add(m.Hold());
        });
        using RpmsgEndpoint talker = link.Remote.CreateEndpoint("talker", null, destination: ep.Address);
        talker.Send("a"u8);
        talker.Send("b"u8);
        WaitUntil(() => Volatile.Read(ref seen) == 2, "two messages");
        Assert.That(talker.TrySend("c"u8), Is.False, "both host receive buffers are held");
        lock (held)
        {
            Assert.That(Encoding.ASCII.GetString(held[0].Payload) + Encoding.ASCII.GetString(held[1].Payload), Is.EqualTo("ab"));
            held[0].Release();
        }
        talker.Send("c"u8, TimeSpan.FromSeconds(20));
        WaitUntil(() => Volatile.Read(ref seen) == 3, "the third message in the released buffer");
    }

    [TestCase(NotificationMode.Doorbell, 1u)]
    [TestCase(NotificationMode.Polling, 1u)]
    [TestCase(NotificationMode.Adaptive, (1u << VirtioRingFeatures.EventIndex) | 1u)]
    public void ThousandsOfMessagesInEveryMode(NotificationMode mode, uint features)
    {
        using var link = new RpmsgLink(features, mode: mode);
        using RpmsgEndpoint echo = RemoteEcho(link);
        int count = 0;
        using var done = new ManualResetEventSlim();
        using RpmsgEndpoint ep = link.Host.CreateEndpoint("c", (in RpmsgReceivedMessage m) =>
        {
            if (BitConverter.ToInt32(m.Payload) != count) throw new InvalidDataException("out of order");
            if (++count == 5000) done.Set();
        }, destination: echo.Address);
        for (int i = 0; i < 5000; i++)
        {
            // The test's echo posts its replies: keep no more in flight than its send queue takes.
            while (i - Volatile.Read(ref count) > 512) Thread.Yield();
            ep.Send(BitConverter.GetBytes(i));
        }
        Assert.That(done.Wait(TimeSpan.FromSeconds(60)), Is.True, $"got {count} of 5000");
        Assert.That(link.Host.Statistics.CallbacksFailed, Is.Zero);
        Assert.That(link.Host.NegotiatedFeatures, Is.EqualTo((ulong)features));
    }

    internal static void WaitUntil(Func<bool> condition, string what)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(20)) Assert.Fail($"timed out waiting for {what}");
            Thread.Yield();
        }
    }
}

public class QueueTests
{
    [Test]
    public void QueuedEndpointDropsAndCountsWhenItsReaderFallsBehind()
    {
        using var link = new RpmsgLink(hostOptions: new RpmsgHostOptions { EndpointQueueCapacity = 4 });
        using RpmsgEndpoint slow = link.Host.CreateEndpoint("slow", null, address: 0x600);
        using RpmsgEndpoint talker = link.Remote.CreateEndpoint("talker", null, destination: 0x600);
        for (int i = 0; i < 10; i++) talker.Send(new[] { (byte)i });
        BusTests.WaitUntil(() => link.Host.Statistics.MessagesReceived + link.Host.Statistics.DroppedQueueOverflow == 10, "10 messages");
        Assert.That(link.Host.Statistics.MessagesReceived, Is.EqualTo(4), "only what the queue held was delivered");
        Assert.That(link.Host.Statistics.DroppedQueueOverflow, Is.EqualTo(6));
        var got = new List<byte>();
        while (slow.TryReceive(out RpmsgMessage m)) { got.Add(m.Payload[0]); m.Dispose(); }
        Assert.That(got, Is.EqualTo(new byte[] { 0, 1, 2, 3 }), "the oldest are kept, in order");
    }

    [Test]
    public async Task ReceiveAsyncEndsWhenTheEndpointIsDestroyed()
    {
        using var link = new RpmsgLink();
        RpmsgEndpoint ep = link.Host.CreateEndpoint("gone", null);
        ValueTask<RpmsgMessage> pending = ep.ReceiveAsync();
        ep.Dispose();
        var e = Assert.ThrowsAsync<RpmsgException>(async () => await pending.AsTask().WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.That(e!.Error, Is.EqualTo(RpmsgError.EndpointDestroyed));
        await Task.CompletedTask;
    }
}

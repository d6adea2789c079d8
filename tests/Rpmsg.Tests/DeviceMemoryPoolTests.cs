using AmpCan.Rpmsg;
using AmpCan.SharedMem;

namespace AmpCan.Tests.Rpmsg;

/// <summary>
/// The host's buffer pool in device memory (a carveout mapped through /dev/mem on a real SoC): no span the host hands
/// out, to a callback or to a zero-copy sender, points into it, and every message still arrives whole both ways.
/// </summary>
public class DeviceMemoryPoolTests
{
    [TestCase(MemoryAttributes.Device)]
    [TestCase(MemoryAttributes.Normal)]
    public void TheHostHandsOutNoSpanIntoADevicePoolAndMessagesArriveWhole(MemoryAttributes attributes)
    {
        using var pair = new VdevPair("device-pool");
        var device = new VirtioRpmsgDevice("remote");
        device.Activated += bus => bus.CreateEndpoint("echo", (in RpmsgReceivedMessage m) => m.Endpoint.PostTo(m.Source, m.Payload), announce: true);
        var options = new RpmsgHostOptions().ForRings(256, 256);
        IoRegion pool = pair.Pool(options.PoolSize);
        if (attributes == MemoryAttributes.Device) pool = pool.AsDeviceMemory();
        var driver = new VirtioRpmsgDriver("host", options);
        pair.HostTransport.ProbeDriver(driver, pair.HostLoop, pool);
        using VirtioRpmsgHost host = driver.Bus!;
        Assert.That(pair.RemoteTransport.ActivateDevice(device, pair.RemoteLoop, TimeSpan.FromSeconds(20)), Is.True);

        var echo = new TaskCompletionSource<RpmsgChannel>(TaskCreationOptions.RunContinuationsAsynchronously);
        host.ChannelCreated += c => echo.TrySetResult(c);
        RpmsgChannel channel = host.Channels.FirstOrDefault(c => c.Name == "echo") ?? RpmsgLink.Await(echo.Task, "the echo announcement");
        int intoShared = 0, received = 0;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using RpmsgEndpoint ep = host.CreateEndpoint("client", (in RpmsgReceivedMessage m) =>
        {
            if (m.Payload.Overlaps(pair.Shm.Io.GetSpan(0, (int)pair.Shm.Size))) Interlocked.Increment(ref intoShared);
            byte[] want = Message(received);
            if (!m.Payload.SequenceEqual(want)) done.TrySetException(new AssertionException($"reply {received} differs"));
            if (++received == 200) done.TrySetResult();
        }, destination: channel.RemoteAddress);
        for (int i = 0; i < 200; i++)
        {
            byte[] msg = Message(i);
            if (i % 2 == 0) ep.Send(msg);
            else
            {
                RpmsgTxBuffer tx = ep.GetTxBuffer(TimeSpan.FromSeconds(10)); // zero copy: the span to write into
                if (tx.Payload.Overlaps(pair.Shm.Io.GetSpan(0, (int)pair.Shm.Size))) Interlocked.Increment(ref intoShared);
                msg.CopyTo(tx.Payload);
                ep.SendNoCopy(tx, msg.Length);
            }
        }
        RpmsgLink.Await(done.Task.ContinueWith(t => { t.GetAwaiter().GetResult(); return true; }), "200 replies");
        if (attributes == MemoryAttributes.Device) Assert.That(intoShared, Is.Zero, "a span into device memory was handed out");
        else Assert.That(intoShared, Is.GreaterThan(0), "ordinary memory is handed out zero-copy (the check above can see it)");
        device.Reset();
    }

    private static byte[] Message(int i) => [.. Enumerable.Range(0, 1 + i % 480).Select(b => (byte)(b * 7 + i))];
}

using AmpCan.Remoteproc;
using AmpCan.Rpmsg;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;

namespace AmpCan.Tests.Rpmsg;

/// <summary>
/// Everything in device memory, as on a SoC whose carveout is mapped through /dev/mem: the resource table, both rings
/// and the host's buffer pool. The host and the remote (OpenAMP's role) exchange messages, copied and zero-copy, byte
/// for byte (matched by length: the remote's posted and zero-copy replies may overtake each other), and neither hands
/// a callback or a sender a span into the shared memory.
/// </summary>
public class DeviceMemoryBusTests
{
    [Test]
    public void HostAndRemoteExchangeMessagesWithEverythingInDeviceMemory()
    {
        using MappedRegion shm = MappedRegion.CreateMemfd("device-bus", 0x80000, RpmsgLink.Base);
        IoRegion device = shm.Io.AsDeviceMemory();
        var memory = new MemoryMap(device);
        device.Write(0, new ResourceTableBuilder().Vdev(VirtioRpmsg.DeviceId, 0, (uint)VirtioRpmsgDevice.DefaultFeatures,
            [new VringSpec((uint)RpmsgLink.Base + 0x4000, 0x1000, 64, 1), new VringSpec((uint)RpmsgLink.Base + 0x8000, 0x1000, 64, 2)]).Build());
        VdevResource vdev = ResourceTable.Parse(device.Slice(0, 0x1000)).Vdevs[0];
        (EventFdDoorbell hostBell, EventFdDoorbell remoteBell) = EventFdDoorbell.CreatePair();
        using var _h = hostBell;
        using var _r = remoteBell;
        using var hostLoop = new NotificationLoop("host", NotificationMode.Adaptive);
        using var remoteLoop = new NotificationLoop("remote", NotificationMode.Adaptive);
        hostLoop.Start();
        remoteLoop.Start();
        int intoShared = 0;
        bool IntoShared(ReadOnlySpan<byte> s) => s.Overlaps(shm.Io.GetSpan(0, (int)shm.Size)); // the ordinary view, only to compare

        var remote = new VirtioRpmsgDevice("remote");
        remote.Activated += bus => bus.CreateEndpoint("echo", (in RpmsgReceivedMessage m) =>
        {
            if (IntoShared(m.Payload)) Interlocked.Increment(ref intoShared);
            // Zero copy on the remote's side too, when a buffer is at hand: the reply is written into the span the bus hands out.
            if (m.Payload.Length % 3 == 0 && m.Endpoint.TryGetTxBuffer(out RpmsgTxBuffer tx))
            {
                if (IntoShared(tx.Payload)) Interlocked.Increment(ref intoShared);
                m.Payload.CopyTo(tx.Payload);
                m.Endpoint.SendToNoCopy(tx, m.Source, m.Payload.Length);
            }
            else m.Endpoint.PostTo(m.Source, m.Payload);
        }, announce: true);
        var options = new RpmsgHostOptions().ForRings(64, 64);
        var driver = new VirtioRpmsgDriver("host", options);
        new VdevTransport(vdev, memory, hostBell).ProbeDriver(driver, hostLoop, device.Slice(0x10000, options.PoolSize));
        using VirtioRpmsgHost host = driver.Bus!;
        Assert.That(new VdevTransport(vdev, memory, remoteBell).ActivateDevice(remote, remoteLoop, TimeSpan.FromSeconds(20)), Is.True);

        var announced = new TaskCompletionSource<RpmsgChannel>(TaskCreationOptions.RunContinuationsAsynchronously);
        host.ChannelCreated += c => announced.TrySetResult(c);
        RpmsgChannel channel = host.Channels.FirstOrDefault(c => c.Name == "echo") ?? RpmsgLink.Await(announced.Task, "the echo announcement");
        // The remote's replies may overtake each other (a posted one waits for a buffer, a zero-copy one does not), so
        // each is matched by its length, which names the message (lengths are unique below 496 messages).
        int received = 0;
        bool[] seen = new bool[300];
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using RpmsgEndpoint ep = host.CreateEndpoint("client", (in RpmsgReceivedMessage m) =>
        {
            if (IntoShared(m.Payload)) Interlocked.Increment(ref intoShared);
            int index = m.Payload.Length - 1;
            if (index < 0 || index >= seen.Length || seen[index] || !m.Payload.SequenceEqual(Message(index)))
                done.TrySetException(new AssertionException($"a reply of {m.Payload.Length} bytes is not one of the messages sent, or came twice"));
            else seen[index] = true;
            if (++received == seen.Length) done.TrySetResult();
        }, destination: channel.RemoteAddress);
        for (int i = 0; i < 300; i++)
        {
            byte[] msg = Message(i);
            if (i % 2 == 0) ep.Send(msg);
            else
            {
                RpmsgTxBuffer tx = ep.GetTxBuffer(TimeSpan.FromSeconds(10));
                if (IntoShared(tx.Payload)) Interlocked.Increment(ref intoShared);
                msg.CopyTo(tx.Payload);
                ep.SendNoCopy(tx, msg.Length);
            }
        }
        RpmsgLink.Await(done.Task.ContinueWith(t => { t.GetAwaiter().GetResult(); return true; }), "300 replies");
        Assert.That(intoShared, Is.Zero, "a span into device memory was handed out");
        Assert.That(remote.Bus!.Statistics.DroppedMalformed + host.Statistics.DroppedMalformed, Is.Zero);
        remote.Reset();
    }

    // Every length from 1 to the largest payload a 512-byte buffer holds, contents depending on the index.
    private static byte[] Message(int i) => [.. Enumerable.Range(0, 1 + i % 496).Select(b => (byte)(b * 7 + i))];
}

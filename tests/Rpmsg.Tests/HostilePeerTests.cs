using AmpCan.Rpmsg;
using AmpCan.Rpmsg.Wire;
using AmpCan.Vring;
using AmpCan.Vring.Wire;

namespace AmpCan.Tests.Rpmsg;

public class HostilePeerTests
{
    private static byte[] Ns(string name, uint addr, uint flags)
    {
        byte[] b = new byte[40];
        System.Text.Encoding.ASCII.GetBytes(name).CopyTo(b, 0);
        BitConverter.GetBytes(addr).CopyTo(b, 32);
        BitConverter.GetBytes(flags).CopyTo(b, 36);
        return b;
    }

    private static void AssertStillWorks(RpmsgLink link)
    {
        using RpmsgEndpoint echo = link.Remote.CreateEndpoint("echo-check", (in RpmsgReceivedMessage m) => m.Endpoint.PostTo(m.Source, m.Payload));
        using RpmsgEndpoint ep = link.Host.CreateEndpoint("check", null, destination: echo.Address);
        ep.Send("still alive"u8);
        using RpmsgMessage m = ep.ReceiveAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20)).Result;
        Assert.That(m.Payload.ToArray(), Is.EqualTo("still alive"u8.ToArray()));
    }

    [Test]
    public void MalformedNameServiceMessagesAreCountedNotFatal()
    {
        using var link = new RpmsgLink();
        using RpmsgEndpoint evil = link.Remote.CreateEndpoint("evil", null, address: 0x700);
        byte[] unterminated = Ns("", 0x700, 0);
        unterminated.AsSpan(0, 32).Fill((byte)'z');
        evil.SendTo(RpmsgAddress.NameService, Ns("short", 0x700, 0).AsSpan(0, 39));
        evil.SendTo(RpmsgAddress.NameService, unterminated);
        evil.SendTo(RpmsgAddress.NameService, Ns("", 0x700, 0));
        evil.SendTo(RpmsgAddress.NameService, Ns("any-addr", RpmsgAddress.Any, 0));
        evil.SendTo(RpmsgAddress.NameService, Ns("dup", 0x700, 0));
        evil.SendTo(RpmsgAddress.NameService, Ns("dup", 0x700, 0));
        evil.SendTo(RpmsgAddress.NameService, Ns("never-created", 0x701, 1));
        BusTests.WaitUntil(() => link.Host.Statistics.NameServiceUnknownDestroys == 1, "the last message");
        Assert.Multiple(() =>
        {
            Assert.That(link.Host.Statistics.NameServiceRejected, Is.EqualTo(3), "short, empty name, address ANY");
            Assert.That(link.Host.Statistics.NameServiceDuplicateAnnouncements, Is.EqualTo(1));
            // An unterminated 32-byte name is accepted cut to 31 bytes, as Linux's rpmsg_ns.c does.
            Assert.That(link.Host.Channels.Select(c => c.Name), Is.EqualTo(new[] { new string('z', 31), "dup" }));
            Assert.That(link.Host.State, Is.EqualTo(RpmsgDeviceState.Ready));
        });
        AssertStillWorks(link);
    }

    [Test]
    public void HeaderLongerThanItsBufferCostsOnlyThatMessage()
    {
        using var link = new RpmsgLink(startRemote: false);
        var got = new List<string>();
        using RpmsgEndpoint ep = link.Host.CreateEndpoint("victim", (in RpmsgReceivedMessage m) => { lock (got) got.Add(System.Text.Encoding.ASCII.GetString(m.Payload)); }, address: 0x800);
        SplitVirtqueueDevice raw = link.RawRemoteTx();
        // 1: claims 1000 payload bytes in a 512-byte buffer; 2: claims 100 but the device wrote 20;
        // 3: shorter than a header; 4: a good one. Repeat past the 256 receive buffers to prove each is recycled.
        for (int round = 0; round < 80; round++)
        {
            Forge(raw, new RpmsgHeader(0x400, 0x800, 0, 1000, 0), 512);
            Forge(raw, new RpmsgHeader(0x400, 0x800, 0, 100, 0), 20);
            Forge(raw, new RpmsgHeader(0x400, 0x800, 0, 0, 0), 10);
            Forge(raw, new RpmsgHeader(0x400, 0x800, 0, 2, 0), 18, "ok"u8);
            if (raw.PublishUsed()) link.RemoteBell.Ring();
            int want = round + 1;
            BusTests.WaitUntil(() => { lock (got) return got.Count == want; }, $"good message {want}");
        }
        Assert.Multiple(() =>
        {
            Assert.That(link.Host.Statistics.DroppedMalformed, Is.EqualTo(240));
            Assert.That(got, Is.All.EqualTo("ok"));
            Assert.That(link.Host.State, Is.EqualTo(RpmsgDeviceState.Ready));
        });
    }

    private static void Forge(SplitVirtqueueDevice raw, RpmsgHeader h, uint usedLength, ReadOnlySpan<byte> payload = default)
    {
        Assert.That(raw.TryPop(out DescriptorChain c), Is.True, "the host keeps posting receive buffers");
        Span<byte> buf = c.Writable[0].Span;
        h.Write(buf);
        payload.CopyTo(buf[16..]);
        raw.AddUsed(c.Head, usedLength);
    }

    [Test]
    public void UnknownDestinationsAreDroppedAndTheirBuffersRecycled()
    {
        using var link = new RpmsgLink();
        using RpmsgEndpoint talker = link.Remote.CreateEndpoint("talker", null);
        for (int i = 0; i < 600; i++) talker.SendTo(0x9999, "lost"u8, TimeSpan.FromSeconds(20));
        BusTests.WaitUntil(() => link.Host.Statistics.DroppedUnknownDestination == 600, "600 drops");
        AssertStillWorks(link);
    }

    [Test]
    public void UsedIdNeverMadeAvailableFailsOnlyThatDevice()
    {
        using var bystander = new RpmsgLink();
        using var link = new RpmsgLink(startRemote: false);
        var failed = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        link.Host.DeviceFailed += e => failed.TrySetResult(e);
        using RpmsgEndpoint ep = link.Host.CreateEndpoint("victim", null, destination: 0x400);
        var ring = SplitRing.Legacy(link.Memory, RpmsgLink.Base + 0x4000, 256, 0x1000);
        ring.Used.Write(SplitRingOffsets.UsedEntry(0), new VirtqUsedElement(999, 16));
        ring.Used.WriteU16Release(SplitRingOffsets.Index, 1);
        link.RemoteBell.Ring();

        Exception reason = RpmsgLink.Await(failed.Task, "the device failure");
        Assert.Multiple(() =>
        {
            Assert.That(reason, Is.TypeOf<VirtqueueException>());
            Assert.That(((VirtqueueException)reason).Error, Is.EqualTo(VirtqueueError.UsedIdOutOfRange));
            Assert.That(link.Host.State, Is.EqualTo(RpmsgDeviceState.Failed));
            Assert.That(link.Vdev.Status.HasFlag(VirtioStatus.Failed), Is.True, "the host marks the vdev FAILED where the remote can see it");
            Assert.That(ep.IsDestroyed, Is.True);
            Assert.That(Assert.Throws<RpmsgException>(() => ep.SendTo(0x400, "x"u8))!.Error, Is.EqualTo(RpmsgError.DeviceFailed));
        });
        AssertStillWorks(bystander);
    }

    [Test]
    public void HostileHostFailsTheRemoteWithNeedsReset()
    {
        using var link = new RpmsgLink();
        var failed = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        link.Remote.DeviceFailed += e => failed.TrySetResult(e);
        // The host side's transmit ring (vq1) suddenly claims 300 new buffers.
        var ring = SplitRing.Legacy(link.Memory, RpmsgLink.Base + 0x8000, 256, 0x1000);
        ring.Available.WriteU16Release(SplitRingOffsets.Index, 300);
        link.HostBell.Ring();
        Exception reason = RpmsgLink.Await(failed.Task, "the remote's failure");
        Assert.That(((VirtqueueException)reason).Error, Is.EqualTo(VirtqueueError.AvailIndexOutOfRange));
        Assert.That(link.Vdev.Status.HasFlag(VirtioStatus.DeviceNeedsReset), Is.True);
    }

    [Test]
    public void ThrowingCallbackCostsThatMessageOnly()
    {
        using var link = new RpmsgLink();
        int calls = 0;
        using RpmsgEndpoint ep = link.Host.CreateEndpoint("fragile", (in RpmsgReceivedMessage m) =>
        {
            if (Interlocked.Increment(ref calls) == 1) throw new InvalidOperationException("bug in the application");
        }, address: 0x900);
        using RpmsgEndpoint talker = link.Remote.CreateEndpoint("talker", null, destination: 0x900);
        talker.Send("1"u8);
        talker.Send("2"u8);
        BusTests.WaitUntil(() => Volatile.Read(ref calls) == 2, "both messages");
        Assert.That(link.Host.Statistics.CallbacksFailed, Is.EqualTo(1));
        Assert.That(link.Host.State, Is.EqualTo(RpmsgDeviceState.Ready));
    }
}

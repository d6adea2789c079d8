using System.Runtime.InteropServices;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;
using AmpCan.VhostUser;
using AmpCan.VhostUser.Wire;
using AmpCan.Vring;
using Microsoft.Win32.SafeHandles;

namespace AmpCan.Tests.VhostUser;

/// <summary>
/// A front end that breaks the protocol gets an error answer (REPLY_ACK) or a closed connection and a log line, never
/// a crash or a mapping it did not send; and the back end then serves a well-behaved front end.
/// </summary>
public sealed class HostileFrontEndTests : BackendFixture
{
    /// <summary>A memfd under a name no other descriptor in the process has, so counting its descriptors is exact.</summary>
    private static MappedRegion UniqueMemfd() => MappedRegion.CreateMemfd($"refused-{Guid.NewGuid():N}", 0x1000);

    // Counting every descriptor in the process raced with the runtime and earlier tests' sessions opening and closing
    // their own (seen once in CI); counting only those open on one uniquely named file cannot.
    private static int DescriptorsOn(MappedRegion file)
    {
        string name = "/memfd:" + file.Name;
        int count = 0;
        foreach (string fd in Directory.GetFiles("/proc/self/fd"))
        {
            try { if (new FileInfo(fd).LinkTarget?.StartsWith(name, StringComparison.Ordinal) == true) count++; }
            catch (IOException) { } // a descriptor closed while we looked
        }
        return count;
    }

    private void AssertClosedThenServes(TestFrontEnd fe, string logged)
    {
        Assert.That(fe.WaitClosed(), Is.True, "the back end closed the connection");
        fe.Dispose();
        AssertServesWellBehavedFrontEnd();
        Assert.That(Log, Has.Some.Contains(logged), "a log line names the problem");
    }

    private void AssertRefusedThenServes(TestFrontEnd fe, ulong ack, string logged)
    {
        Assert.That(ack, Is.Not.Zero, "answered with a failed REPLY_ACK");
        Assert.That(fe.Send(VhostUserRequest.SetOwner, []), Is.Zero, "the session goes on after a refused request");
        fe.Dispose();
        AssertServesWellBehavedFrontEnd();
        Assert.That(Log, Has.Some.Contains(logged), "a log line names the problem");
    }

    private TestFrontEnd Negotiated()
    {
        var fe = new TestFrontEnd(SocketPath);
        fe.Handshake(AllProtocol);
        Assert.That(fe.SendU64(VhostUserRequest.SetFeatures, OfferedFeatures), Is.Zero);
        return fe;
    }

    [Test]
    public void A_header_without_version_1_closes_the_connection()
    {
        var fe = new TestFrontEnd(SocketPath);
        fe.SendRaw((uint)VhostUserRequest.GetFeatures, 0, []);
        AssertClosedThenServes(fe, "version 0");
    }

    [Test]
    public void A_header_announcing_a_huge_payload_closes_the_connection()
    {
        var fe = new TestFrontEnd(SocketPath);
        fe.SendRaw((uint)VhostUserRequest.SetFeatures, 1, new byte[8], size: 0x7fff_0000);
        AssertClosedThenServes(fe, "payload bytes");
    }

    [Test]
    public void A_message_cut_short_closes_the_connection()
    {
        var fe = new TestFrontEnd(SocketPath);
        fe.SendRaw((uint)VhostUserRequest.SetFeatures, 1, new byte[3], size: 8);
        fe.Dispose(); // the front end dies mid-message
        AssertServesWellBehavedFrontEnd();
        Assert.That(Log, Has.Some.Contains("closed after 3 of 8 bytes"));
    }

    [Test]
    public void An_unknown_request_is_refused_with_REPLY_ACK_and_closes_the_connection_without()
    {
        var fe = Negotiated();
        AssertRefusedThenServes(fe, fe.Send((VhostUserRequest)99, []), "request 99");
        var silent = new TestFrontEnd(SocketPath);
        silent.SendRaw(99, 1, []);
        AssertClosedThenServes(silent, "asked for no answer");
    }

    [Test]
    public void A_payload_of_the_wrong_size_is_refused()
    {
        var fe = Negotiated();
        AssertRefusedThenServes(fe, fe.Send(VhostUserRequest.SetFeatures, new byte[4]), "with 4 payload bytes");
    }

    [Test]
    public void Descriptors_a_request_does_not_take_are_refused_and_closed()
    {
        var fe = Negotiated();
        using MappedRegion a = UniqueMemfd(), b = UniqueMemfd();
        Assert.That(DescriptorsOn(a) + DescriptorsOn(b), Is.EqualTo(2), "the test sees the descriptors it holds");
        ulong tooMany = fe.SendU64(VhostUserRequest.SetVringCall, 0, a.FileHandle!, b.FileHandle!);
        ulong unasked = fe.SendU64(VhostUserRequest.SetFeatures, OfferedFeatures, a.FileHandle!);
        Assert.That(unasked, Is.Not.Zero);
        Assert.That(DescriptorsOn(a) + DescriptorsOn(b), Is.EqualTo(2), "every descriptor received was closed");
        AssertRefusedThenServes(fe, tooMany, "takes 1");
    }

    [Test]
    public void A_memory_table_with_fewer_descriptors_than_regions_is_refused()
    {
        var fe = Negotiated();
        using MappedRegion sent = UniqueMemfd();
        ulong ack = fe.SetMemTable(
            [TestFrontEnd.WholeMemory, new MemoryRegionDescription(0x1_0000_0000, 0x1000, 0x7f00_0000_0000, 0)],
            [sent.FileHandle!]);
        Assert.That(DescriptorsOn(sent), Is.EqualTo(1), "the one descriptor sent was closed");
        AssertRefusedThenServes(fe, ack, "it takes 2");
    }

    [TestCase(0x4000_0000UL, 0x8_0000UL, 0x7f12_3400_0000UL, 0UL, 0x4004_0000UL, 0x7f00_0000_0000UL, "overlap in guest-physical")]
    [TestCase(0x4000_0000UL, 0x8_0000UL, 0x7f12_3400_0000UL, 0UL, 0x9000_0000UL, 0x7f12_3404_0000UL, "overlap in front-end")]
    public void A_memory_table_with_overlapping_regions_is_refused(ulong g0, ulong s0, ulong u0, ulong o0, ulong g1, ulong u1, string logged)
    {
        var fe = Negotiated();
        ulong ack = fe.SetMemTable([new(g0, s0, u0, o0), new(g1, 0x8_0000, u1, 0x8_0000)], [fe.Memory.FileHandle!, fe.Memory.FileHandle!]);
        AssertRefusedThenServes(fe, ack, logged);
    }

    [TestCase(0x4000_0000UL, 0UL, 0UL, "is empty")]
    [TestCase(0xffff_ffff_ffff_f000UL, 0x2000UL, 0UL, "wraps")]
    [TestCase(0x4000_0000UL, 0x20_0000UL, 0UL, "smaller than")]           // 2 MiB of a 1 MiB memfd
    [TestCase(0x4000_0000UL, 0x8_0000UL, 0x10_0000UL, "smaller than")]    // a window past the end of the file
    [TestCase(0x4000_0000UL, 0x1000UL, 0x800UL, "page size")]
    public void An_absurd_memory_region_is_refused(ulong guest, ulong size, ulong offset, string logged)
    {
        var fe = Negotiated();
        AssertRefusedThenServes(fe, fe.SetMemTable(new MemoryRegionDescription(guest, size, TestFrontEnd.UserBase, offset)), logged);
    }

    [Test]
    public void Nine_regions_are_refused()
    {
        var fe = Negotiated();
        var regions = Enumerable.Range(0, 9).Select(i => new MemoryRegionDescription(TestFrontEnd.GuestBase + (ulong)i * 0x1000, 0x1000, TestFrontEnd.UserBase + (ulong)i * 0x1000, (ulong)i * 0x1000)).ToArray();
        AssertRefusedThenServes(fe, fe.SetMemTable(regions, [.. regions.Select(_ => fe.Memory.FileHandle!)]), "9 regions");
    }

    [Test]
    public void A_descriptor_that_is_not_memory_is_never_mapped()
    {
        var fe = Negotiated();
        (EventFdDoorbell a, EventFdDoorbell b) = EventFdDoorbell.CreatePair();
        using (a)
        using (b)
        {
            ulong ack = fe.SetMemTable([TestFrontEnd.WholeMemory], [a.WaitFdHandle]);
            AssertRefusedThenServes(fe, ack, "not a memfd or regular file");
        }
    }

    [Test]
    public void Guest_memory_its_sender_could_truncate_is_refused_unless_the_host_accepts_it()
    {
        string file = Path.Combine(Path.GetTempPath(), $"vhost-unsealed-{Environment.ProcessId}-{Guid.NewGuid():N}");
        using (SafeFileHandle unsealed = File.OpenHandle(file, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.ReadWrite, FileOptions.DeleteOnClose))
        {
            RandomAccess.SetLength(unsealed, (long)TestFrontEnd.MemorySize);
            var fe = Negotiated();
            ulong ack = fe.SetMemTable([TestFrontEnd.WholeMemory], [unsealed]);
            AssertRefusedThenServes(fe, ack, "not sealed against shrinking");

            string path = SocketPath + "-lenient";
            using VhostUserBackend lenient = NewBackend(new LoopbackDevice(), path, new VhostUserBackendOptions { AcceptUnsealedMemory = true });
            lenient.Start();
            using var accepted = new TestFrontEnd(path);
            accepted.Handshake(AllProtocol);
            Assert.That(accepted.SetMemTable([TestFrontEnd.WholeMemory], [unsealed]), Is.Zero);
            Assert.That(Log, Has.Some.Contains("can truncate it"), "the exposure is logged");
        }
    }

    [Test]
    public void Ring_addresses_outside_the_memory_table_are_refused()
    {
        var fe = Negotiated();
        Assert.That(fe.SetMemTable(TestFrontEnd.WholeMemory), Is.Zero);
        Assert.That(fe.SendState(VhostUserRequest.SetVringNum, 0, 64), Is.Zero);
        ulong guestNotUser = fe.SetVringAddr(0, TestFrontEnd.RingAddress(0, 0), TestFrontEnd.RingAddress(0, 1), TestFrontEnd.RingAddress(0, 2));
        Assert.That(guestNotUser, Is.Not.Zero, "ring addresses are front-end addresses, not guest-physical");
        ulong straddling = fe.SetVringAddr(0, TestFrontEnd.UserBase + TestFrontEnd.MemorySize - 0x100,
            TestFrontEnd.ToUser(TestFrontEnd.RingAddress(0, 1)), TestFrontEnd.ToUser(TestFrontEnd.RingAddress(0, 2)));
        Assert.That(straddling, Is.Not.Zero, "a descriptor table running past the region's end");
        ulong misaligned = fe.SetVringAddr(0, TestFrontEnd.ToUser(TestFrontEnd.RingAddress(0, 0)) + 8,
            TestFrontEnd.ToUser(TestFrontEnd.RingAddress(0, 1)), TestFrontEnd.ToUser(TestFrontEnd.RingAddress(0, 2)));
        Assert.That(misaligned, Is.Not.Zero, "a descriptor table not 16-byte aligned");
        AssertRefusedThenServes(fe, fe.SetVringAddr(0, 0, 0, 0), "not inside a mapped window");
    }

    [TestCase(100u)]
    [TestCase(0u)]
    [TestCase(512u)] // beyond the device's largest queue (256)
    public void A_queue_size_that_is_not_a_power_of_two_up_to_the_device_maximum_is_refused(uint size)
    {
        var fe = Negotiated();
        AssertRefusedThenServes(fe, fe.SendState(VhostUserRequest.SetVringNum, 0, size), "power of two");
    }

    [Test]
    public void A_queue_index_beyond_the_device_is_refused()
    {
        var fe = Negotiated();
        AssertRefusedThenServes(fe, fe.SendState(VhostUserRequest.SetVringNum, 2, 64), "the device has 2");
    }

    [Test]
    public void Requests_in_the_wrong_state_are_refused()
    {
        var fe = new TestFrontEnd(SocketPath);
        fe.Handshake(ReplyAckOnly);
        Assert.That(fe.SendState(VhostUserRequest.SetVringEnable, 0, 1), Is.Not.Zero, "ENABLE before PROTOCOL_FEATURES was accepted");
        Assert.That(fe.SendU64(VhostUserRequest.SetFeatures, OfferedFeatures), Is.Zero);
        Assert.That(fe.SendState(VhostUserRequest.SetVringNum, 0, 64), Is.Zero);
        Assert.That(fe.SetVringAddr(0, TestFrontEnd.UserBase, TestFrontEnd.UserBase + 0x1000, TestFrontEnd.UserBase + 0x2000), Is.Not.Zero, "ADDR before SET_MEM_TABLE");
        Assert.That(fe.Send(VhostUserRequest.ResetDevice, []), Is.Not.Zero, "RESET_DEVICE was not negotiated");
        Assert.That(fe.SendU64(VhostUserRequest.SetProtocolFeatures, 1), Is.Not.Zero, "MQ is never offered");
        AssertRefusedThenServes(fe, fe.Send(VhostUserRequest.SetConfig, new byte[12]), "protocol feature Config");
    }

    [Test]
    public void Changing_a_running_ring_is_refused()
    {
        var fe = new TestFrontEnd(SocketPath);
        fe.StartQueues(fe.Handshake(AllProtocol));
        Assert.That(fe.SendState(VhostUserRequest.SetVringNum, 0, 32), Is.Not.Zero);
        Assert.That(fe.SendState(VhostUserRequest.SetVringBase, 1, 7), Is.Not.Zero);
        Assert.That(Device.IsActive, Is.True, "the running device is left alone");
        AssertRefusedThenServes(fe, fe.SendU64(VhostUserRequest.SetFeatures, 1UL << 32), "while the device runs");
    }

    [Test]
    public void A_kick_descriptor_that_is_not_an_eventfd_is_refused()
    {
        var fe = Negotiated();
        AssertRefusedThenServes(fe, fe.SendU64(VhostUserRequest.SetVringKick, 0, fe.Memory.FileHandle!), "not an eventfd");
    }

    [Test]
    public void A_polled_kick_is_refused()
    {
        var fe = Negotiated();
        AssertRefusedThenServes(fe, fe.SendU64(VhostUserRequest.SetVringKick, 0x100), "polled rings");
    }

    [Test]
    public void A_descriptor_pointing_outside_guest_memory_costs_the_queue_not_the_process()
    {
        using (var fe = new TestFrontEnd(SocketPath))
        {
            fe.StartQueues(fe.Handshake(AllProtocol));
            fe.PostReceiveBuffers(2);
            // A chain whose buffer lies beyond every region: the device's queue breaks, nothing is read from there.
            Assert.That(fe.Drivers[1].TryAdd(new VirtqBuffer(0x9000_0000_0000, 64), deviceWritable: false, token: 1), Is.True);
            fe.Drivers[1].KickPrepare();
            fe.Eventfds[1].Ring();
        }
        AssertServesWellBehavedFrontEnd();
    }
}

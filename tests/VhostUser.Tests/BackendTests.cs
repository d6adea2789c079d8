using System.Net.Sockets;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;
using AmpCan.VhostUser;
using AmpCan.VhostUser.Wire;

namespace AmpCan.Tests.VhostUser;

/// <summary>A well-behaved front end through the lifecycle QEMU 11.1 drives: realize, driver start, stop, reload, reconnect.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class BackendTests : BackendFixture
{
    [Test]
    public void Handshake_offers_the_device_features_with_version_1_and_protocol_features()
    {
        using var fe = new TestFrontEnd(SocketPath);
        Assert.That(fe.Get(VhostUserRequest.GetFeatures), Is.EqualTo(OfferedFeatures));
        Assert.That(fe.Get(VhostUserRequest.GetProtocolFeatures), Is.EqualTo(OfferedProtocol));
        fe.Handshake(ReplyAckOnly);
        Assert.That(fe.SendU64(VhostUserRequest.SetFeatures, 1UL << 29), Is.Not.Zero, "EVENT_IDX was not offered");
        Assert.That(fe.SendU64(VhostUserRequest.SetFeatures, OfferedFeatures), Is.Zero);
    }

    [Test]
    public void A_device_without_config_space_is_offered_neither_CONFIG_nor_BACKEND_REQ()
    {
        string path = SocketPath + "-noconfig";
        using VhostUserBackend b = NewBackend(new LoopbackDevice(features: 0, configLength: 0), path, new VhostUserBackendOptions());
        b.Start();
        using var fe = new TestFrontEnd(path);
        Assert.That(fe.Get(VhostUserRequest.GetFeatures), Is.EqualTo(0x1_4000_0000UL));
        Assert.That(fe.Get(VhostUserRequest.GetProtocolFeatures), Is.EqualTo(0x2008UL)); // REPLY_ACK | RESET_DEVICE
    }

    [Test]
    public void Data_goes_round_the_device_and_it_gets_the_negotiated_features_without_bit_30()
    {
        using var fe = new TestFrontEnd(SocketPath);
        ulong features = fe.Handshake(AllProtocol);
        Assert.That(Device.IsActive, Is.False);
        fe.StartQueues(features);
        Assert.That(Device.IsActive, Is.True, "every queue started: the device runs (the last ENABLE was acknowledged after it started)");
        Assert.That(Device.LastFeatures, Is.EqualTo(0x1_1000_0000UL));
        fe.PostReceiveBuffers(8);
        for (int i = 0; i < 40; i++)
        {
            byte[] data = [.. Enumerable.Range(0, 1 + i * 12).Select(b => (byte)(b ^ i))];
            Assert.That(fe.RoundTrip(data, i % 4), Is.EqualTo(data));
        }
    }

    [Test]
    public void GET_VRING_BASE_stops_the_ring_and_returns_the_next_available_index()
    {
        using var fe = new TestFrontEnd(SocketPath);
        fe.StartQueues(fe.Handshake(AllProtocol));
        fe.PostReceiveBuffers(8);
        for (int i = 0; i < 5; i++) fe.RoundTrip([1, 2, 3], 0);
        uint[] bases = fe.StopQueues();
        Assert.That(Device.IsActive, Is.False, "stopped before the reply");
        Assert.That(Device.Resets, Is.EqualTo(1));
        Assert.That(bases[1], Is.EqualTo(5u), "five chains sent on queue 1");
        Assert.That(bases[0], Is.EqualTo(5u), "five receive buffers used on queue 0");
    }

    [Test]
    public void GET_VRING_BASE_reports_the_devices_next_available_index_past_the_chains_it_holds()
    {
        using var fe = new TestFrontEnd(SocketPath);
        fe.StartQueues(fe.Handshake(AllProtocol));
        fe.PostReceiveBuffers(8);
        for (int i = 0; i < 2; i++) fe.RoundTrip([1, 2, 3], 0);
        Device.Hold = true;
        for (int slot = 1; slot <= 2; slot++)
            Assert.That(fe.Drivers[1].TryAdd(new AmpCan.Vring.VirtqBuffer(TestFrontEnd.BufferArea + 0x40000 + (ulong)slot * TestFrontEnd.BufferSize, 4), deviceWritable: false, token: slot), Is.True);
        if (fe.Drivers[1].KickPrepare()) fe.Eventfds[1].Ring();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (Device.Held < 2 && clock.Elapsed < TestFrontEnd.Timeout) Thread.Yield();
        Assert.That(Device.Held, Is.EqualTo(2), "the device took both chains and kept them");
        uint[] bases = fe.StopQueues();
        Assert.That(bases[1], Is.EqualTo(4u), "two answered and two held: the next to take is the fifth (the used index says 2)");
        Assert.That(bases[0], Is.EqualTo(2u));
    }

    [Test]
    public void GET_VRING_BASE_alone_stops_a_running_device()
    {
        using var fe = new TestFrontEnd(SocketPath);
        fe.StartQueues(fe.Handshake(AllProtocol));
        fe.PostReceiveBuffers(8);
        for (int i = 0; i < 3; i++) fe.RoundTrip([1, 2, 3], 0);
        byte[] p = new byte[VringState.Length];
        new VringState(1, 0).Write(p);
        fe.SendRaw((uint)VhostUserRequest.GetVringBase, 1, p); // no SET_VRING_ENABLE 0 before it
        (_, byte[] reply) = fe.ReadReply();
        Assert.That(VringState.Read(reply), Is.EqualTo(new VringState(1, 3)));
        Assert.That(Device.IsActive, Is.False, "the ring stopped, and with it the device");
    }

    [Test]
    public void Unloading_and_reloading_the_driver_restarts_the_device_without_restarting_the_back_end()
    {
        using var fe = new TestFrontEnd(SocketPath);
        ulong features = fe.Handshake(AllProtocol);
        fe.StartQueues(features);
        fe.PostReceiveBuffers(8);
        fe.RoundTrip([9, 8, 7], 0);
        fe.StopQueues(); // rmmod virtio_rpmsg_bus: two ENABLE 0, two GET_VRING_BASE, no reset
        fe.StartQueues(features); // modprobe: SET_FEATURES, SET_MEM_TABLE, fresh rings from index 0
        Assert.That(Device.Activations, Is.EqualTo(2));
        Assert.That(Device.LastStates.Select(s => s.NextAvail), Is.EqualTo(new ushort[] { 0, 0 }), "SET_VRING_BASE 0 on the new rings");
        fe.PostReceiveBuffers(8);
        Assert.That(fe.RoundTrip([1, 2, 3, 4], 1), Is.EqualTo(new byte[] { 1, 2, 3, 4 }));
    }

    [Test]
    public void RESET_DEVICE_stops_the_device_and_a_full_restart_serves_again()
    {
        using var fe = new TestFrontEnd(SocketPath);
        ulong features = fe.Handshake(AllProtocol);
        fe.StartQueues(features);
        Assert.That(fe.Send(VhostUserRequest.ResetDevice, []), Is.Zero);
        Assert.That(Device.IsActive, Is.False);
        Assert.That(fe.SetVringAddr(0, TestFrontEnd.ToUser(TestFrontEnd.RingAddress(0, 0)), TestFrontEnd.ToUser(TestFrontEnd.RingAddress(0, 1)),
            TestFrontEnd.ToUser(TestFrontEnd.RingAddress(0, 2))), Is.Not.Zero, "the memory table went with the reset");
        fe.StartQueues(features);
        fe.PostReceiveBuffers(2);
        Assert.That(fe.RoundTrip([4, 2], 0), Is.EqualTo(new byte[] { 4, 2 }));
    }

    [Test]
    public void A_second_front_end_is_served_after_the_first_left()
    {
        using (var first = new TestFrontEnd(SocketPath))
        {
            first.StartQueues(first.Handshake(AllProtocol));
            first.PostReceiveBuffers(4);
            first.RoundTrip([5], 0);
        } // QEMU exits: the connection closes with the device running
        AssertServesWellBehavedFrontEnd();
        Assert.That(Device.Activations, Is.EqualTo(2));
        Assert.That(Device.Resets, Is.GreaterThanOrEqualTo(1), "the first session's device was reset");
        Assert.That(Backend.SessionsEnded, Is.GreaterThanOrEqualTo(1));
    }

    [Test]
    public void A_call_fd_replaced_while_the_device_runs_is_the_one_signalled()
    {
        using var fe = new TestFrontEnd(SocketPath);
        fe.StartQueues(fe.Handshake(AllProtocol));
        fe.PostReceiveBuffers(4);
        fe.RoundTrip([1], 0);
        (EventFdDoorbell fresh, EventFdDoorbell other) = EventFdDoorbell.CreatePair();
        other.Dispose();
        using (fresh)
        {
            Assert.That(fe.SendU64(VhostUserRequest.SetVringCall, 0, fresh.WaitFdHandle), Is.Zero);
            fe.Eventfds[0].Acknowledge(); // whatever the old one had
            fe.Drivers[1].TryAdd(new Vring.VirtqBuffer(TestFrontEnd.BufferArea + 0x40000, 3), deviceWritable: false, token: 77);
            if (fe.Drivers[1].KickPrepare()) fe.Eventfds[1].Ring();
            Assert.That(fresh.Wait(TestFrontEnd.Timeout), Is.True, "the new call fd is signalled");
            Assert.That(fe.Eventfds[0].Acknowledge(), Is.False, "the replaced one is not");
        }
    }

    [Test]
    public void Config_space_is_read_and_written_within_its_bounds()
    {
        using var fe = new TestFrontEnd(SocketPath);
        fe.Handshake(AllProtocol);
        byte[] get = new byte[ConfigSpaceHeader.Length + 4];
        new ConfigSpaceHeader(2, 4, 0).Write(get);
        fe.SendRaw((uint)VhostUserRequest.GetConfig, 1, get);
        (_, byte[] reply) = fe.ReadReply();
        Assert.That(reply, Is.EqualTo(new byte[] { 2, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0xA2, 0xA3, 0xA4, 0xA5 }));

        byte[] set = new byte[ConfigSpaceHeader.Length + 2];
        new ConfigSpaceHeader(6, 2, 0).Write(set);
        set[12] = 0x11;
        set[13] = 0x22;
        Assert.That(fe.Send(VhostUserRequest.SetConfig, set), Is.Zero);
        Span<byte> now = stackalloc byte[8];
        Device.ReadConfig(0, now);
        Assert.That(now.ToArray(), Is.EqualTo(new byte[] { 0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0x11, 0x22 }));

        new ConfigSpaceHeader(6, 4, 0).Write(get); // 6 + 4 > 8
        fe.SendRaw((uint)VhostUserRequest.GetConfig, 1, get);
        (VhostUserHeader h, byte[] empty) = fe.ReadReply();
        Assert.That(h.Size, Is.Zero, "an empty GET_CONFIG reply is the error answer");
        Assert.That(empty, Is.Empty);
        Assert.That(fe.Send(VhostUserRequest.SetOwner, []), Is.Zero, "the session goes on");
    }

    [Test]
    public void A_config_change_is_sent_over_the_back_end_request_channel()
    {
        using var fe = new TestFrontEnd(SocketPath);
        ulong features = fe.Handshake(AllProtocol);
        Assert.That(Backend.NotifyConfigChanged(), Is.False, "no channel yet");
        using var ours = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        string channelPath = SocketPath + "-backend";
        using var listener = UnixFdChannel.Listener.Bind(channelPath);
        ours.Connect(new UnixDomainSocketEndPoint(channelPath));
        using Socket theirs = listener.Accept();
        Assert.That(fe.Send(VhostUserRequest.SetBackendReqFd, [], ours.SafeHandle), Is.Zero);
        Assert.That(Backend.NotifyConfigChanged(), Is.True);
        byte[] message = new byte[12];
        theirs.ReceiveTimeout = 10_000;
        int read = 0;
        while (read < 12) read += theirs.Receive(message, read, 12 - read, SocketFlags.None);
        Assert.That(message, Is.EqualTo(new byte[] { 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0 }), "BACKEND_CONFIG_CHANGE_MSG, version 1, no payload");

        // The device itself, through the virtio core: a running device changes its config and the driver is told.
        fe.StartQueues(features);
        Assert.That(Device.ChangeConfig([1, 0]), Is.True, "the device's change went out over the channel");
        read = 0;
        while (read < 12) read += theirs.Receive(message, read, 12 - read, SocketFlags.None);
        Assert.That(message, Is.EqualTo(new byte[] { 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0 }));
    }

    [Test]
    public void The_socket_is_created_0600_removed_on_dispose_and_a_path_in_use_or_not_a_socket_is_refused()
    {
        Assert.That(File.GetUnixFileMode(SocketPath), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
        using (VhostUserBackend second = NewBackend(new LoopbackDevice(), SocketPath, new VhostUserBackendOptions()))
            Assert.That(second.Start, Throws.TypeOf<SharedMemoryException>().With.Message.Contains("in use"));
        string file = SocketPath + ".txt";
        File.WriteAllText(file, "not a socket");
        using (VhostUserBackend third = NewBackend(new LoopbackDevice(), file, new VhostUserBackendOptions()))
            Assert.That(third.Start, Throws.TypeOf<SharedMemoryException>().With.Message.Contains("not a socket"));
        Assert.That(File.ReadAllText(file), Is.EqualTo("not a socket"), "left alone");
        Backend.Dispose();
        Assert.That(File.Exists(SocketPath), Is.False);
    }

    [Test]
    public void Socket_paths_for_several_devices()
    {
        Assert.That(VhostUserSocketPaths.Expand("/run/ampcan.sock", 1), Is.EqualTo(new[] { "/run/ampcan.sock" }));
        Assert.That(VhostUserSocketPaths.Expand("/run/ampcan.sock", 3), Is.EqualTo(new[] { "/run/ampcan.sock0", "/run/ampcan.sock1", "/run/ampcan.sock2" }));
    }
}

using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;
using AmpCan.VhostUser.Wire;
using AmpCan.Vring;

namespace AmpCan.Tests.VhostUser;

/// <summary>
/// Plays QEMU: guest memory in a memfd, rings laid out in it, the real vhost-user message sequence with descriptors
/// over the socket, and the driver side of each queue, kicked and signalled through eventfds.
/// </summary>
/// <remarks>
/// Guest-physical and front-end virtual addresses differ on purpose (<see cref="GuestBase"/>, <see cref="UserBase"/>),
/// so a back end that mixed them up would fail. Queue q's rings sit at GuestBase + 0x10000 * q (descriptors, then the
/// available ring at +0x1000, the used ring at +0x2000); buffers from GuestBase + 0x80000.
/// </remarks>
internal sealed class TestFrontEnd : IDisposable
{
    public const ulong GuestBase = 0x4000_0000;
    public const ulong UserBase = 0x7f12_3400_0000;
    public const ulong MemorySize = 1 << 20;
    public const ulong BufferArea = GuestBase + 0x80000;
    public const uint BufferSize = 512;
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly Socket _socket;
    private readonly MemoryMap _map;
    private readonly List<IDisposable> _owned = [];

    public TestFrontEnd(string socketPath, MappedRegion? memory = null)
    {
        _socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _socket.Connect(new UnixDomainSocketEndPoint(socketPath));
        _socket.ReceiveTimeout = (int)Timeout.TotalMilliseconds;
        Memory = memory ?? MappedRegion.CreateMemfd("test-guest-ram", MemorySize, GuestBase);
        if (memory is null) _owned.Add(Memory);
        _map = new MemoryMap(Memory.Io);
    }

    public MappedRegion Memory { get; }
    public SplitVirtqueueDriver[] Drivers { get; } = new SplitVirtqueueDriver[2];
    public EventFdDoorbell[] Eventfds { get; } = new EventFdDoorbell[2]; // ring = our kick, wait = the back end's call
    public bool ReplyAck { get; set; }

    public static ulong RingAddress(int queue, int area) => GuestBase + 0x10000UL * (ulong)queue + 0x1000UL * (ulong)area;

    public static ulong ToUser(ulong guest) => guest - GuestBase + UserBase;

    // ---- raw messages --------------------------------------------------------------------------------------

    /// <summary>Sends a raw message; <paramref name="fds"/> go as SCM_RIGHTS with it.</summary>
    public void SendRaw(uint request, uint flags, ReadOnlySpan<byte> payload, IReadOnlyList<SafeHandle>? fds = null, uint? size = null)
    {
        byte[] message = new byte[VhostUserHeader.Length + payload.Length];
        new VhostUserHeader(request, (VhostUserHeaderFlags)flags, size ?? (uint)payload.Length).Write(message);
        payload.CopyTo(message.AsSpan(VhostUserHeader.Length));
        UnixFdChannel.Send(_socket, message, fds ?? []);
    }

    /// <summary>Sends a request with the need-reply flag when REPLY_ACK is on, and returns the ack (0 when none was asked for).</summary>
    public ulong Send(VhostUserRequest request, ReadOnlySpan<byte> payload, params SafeHandle[] fds)
    {
        uint flags = 1 | (ReplyAck ? 0x8u : 0);
        SendRaw((uint)request, flags, payload, fds);
        if (!ReplyAck) return 0;
        (VhostUserHeader h, byte[] p) = ReadReply();
        Assert.That((VhostUserRequest)h.Request, Is.EqualTo(request), "ack for the request sent");
        Assert.That(p, Has.Length.EqualTo(8));
        return BinaryPrimitives.ReadUInt64LittleEndian(p);
    }

    public ulong SendU64(VhostUserRequest request, ulong value, params SafeHandle[] fds)
    {
        byte[] p = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(p, value);
        return Send(request, p, fds);
    }

    public ulong SendState(VhostUserRequest request, uint index, uint num)
    {
        byte[] p = new byte[VringState.Length];
        new VringState(index, num).Write(p);
        return Send(request, p);
    }

    public (VhostUserHeader Header, byte[] Payload) ReadReply()
    {
        byte[] h = ReadExactly(VhostUserHeader.Length) ?? throw new AssertionException("the back end closed the connection instead of replying");
        VhostUserHeader header = VhostUserHeader.Read(h);
        Assert.That((uint)header.Flags, Is.EqualTo(0x5u), "a reply carries version 1 and the reply bit");
        byte[] payload = header.Size == 0 ? [] : ReadExactly((int)header.Size) ?? throw new AssertionException("reply cut short");
        return (header, payload);
    }

    public ulong Get(VhostUserRequest request)
    {
        SendRaw((uint)request, 1, []);
        (VhostUserHeader h, byte[] p) = ReadReply();
        Assert.That((VhostUserRequest)h.Request, Is.EqualTo(request));
        return BinaryPrimitives.ReadUInt64LittleEndian(p);
    }

    /// <summary>True when the back end closed the connection (end of stream within the timeout).</summary>
    public bool WaitClosed()
    {
        byte[] b = new byte[64];
        try
        {
            while (true)
            {
                int n = _socket.Receive(b);
                if (n == 0) return true;
            }
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            return true;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
        {
            return false;
        }
    }

    private byte[]? ReadExactly(int length)
    {
        byte[] b = new byte[length];
        int read = 0;
        while (read < length)
        {
            int n = _socket.Receive(b, read, length - read, SocketFlags.None);
            if (n == 0) return null;
            read += n;
        }
        return b;
    }

    // ---- the sequence QEMU 11.1 sends ---------------------------------------------------------------------

    /// <summary>At realize: GET_FEATURES, GET/SET_PROTOCOL_FEATURES, SET_OWNER, GET_FEATURES; returns the features.</summary>
    public ulong Handshake(ulong protocolFeatures)
    {
        ulong features = Get(VhostUserRequest.GetFeatures);
        ulong offered = Get(VhostUserRequest.GetProtocolFeatures);
        Assert.That(offered & protocolFeatures, Is.EqualTo(protocolFeatures), "protocol features asked for are offered");
        Assert.That(SendU64(VhostUserRequest.SetProtocolFeatures, protocolFeatures), Is.Zero);
        ReplyAck = (protocolFeatures & (ulong)VhostUserProtocolFeatures.ReplyAck) != 0;
        Assert.That(Send(VhostUserRequest.SetOwner, []), Is.Zero);
        Assert.That(Get(VhostUserRequest.GetFeatures), Is.EqualTo(features));
        return features;
    }

    public ulong SetMemTable(params MemoryRegionDescription[] regions) => SetMemTable(regions, [.. regions.Select(_ => Memory.FileHandle!)]);

    public ulong SetMemTable(MemoryRegionDescription[] regions, SafeHandle[] fds)
    {
        byte[] p = new byte[MemoryTableDescription.LengthOf(regions.Length)];
        MemoryTableDescription.Write(p, regions);
        return Send(VhostUserRequest.SetMemTable, p, fds);
    }

    public static MemoryRegionDescription WholeMemory => new(GuestBase, MemorySize, UserBase, 0);

    public ulong SetVringAddr(int queue, ulong desc, ulong avail, ulong used, uint flags = 0)
    {
        byte[] p = new byte[VringAddress.Length];
        new VringAddress((uint)queue, flags, desc, used, avail, 0).Write(p);
        return Send(VhostUserRequest.SetVringAddr, p);
    }

    /// <summary>
    /// When the driver sets DRIVER_OK: SET_FEATURES, SET_MEM_TABLE, per queue NUM, BASE, ADDR, KICK, CALL, then
    /// ENABLE for each queue and a new CALL for each (as QEMU 11.1 does). Fresh rings, zeroed.
    /// </summary>
    public void StartQueues(ulong features, int queueSize = 64)
    {
        Assert.That(SendU64(VhostUserRequest.SetFeatures, features), Is.Zero);
        Assert.That(SetMemTable(WholeMemory), Is.Zero);
        for (int q = 0; q < 2; q++)
        {
            SplitRing ring = SplitRing.Separate(_map, queueSize, RingAddress(q, 0), RingAddress(q, 1), RingAddress(q, 2));
            Drivers[q] = new SplitVirtqueueDriver(ring, eventIndex: false, clearRing: true);
            Eventfds[q]?.Dispose();
            (EventFdDoorbell mine, EventFdDoorbell other) = EventFdDoorbell.CreatePair();
            other.Dispose();
            Eventfds[q] = mine;
            Assert.That(SendState(VhostUserRequest.SetVringNum, (uint)q, (uint)queueSize), Is.Zero);
            Assert.That(SendState(VhostUserRequest.SetVringBase, (uint)q, 0), Is.Zero);
            Assert.That(SetVringAddr(q, ToUser(RingAddress(q, 0)), ToUser(RingAddress(q, 1)), ToUser(RingAddress(q, 2))), Is.Zero);
            Assert.That(SendU64(VhostUserRequest.SetVringKick, (ulong)q, mine.RingFdHandle), Is.Zero);
            Assert.That(SendU64(VhostUserRequest.SetVringCall, (ulong)q, mine.WaitFdHandle), Is.Zero);
        }
        for (int q = 0; q < 2; q++) Assert.That(SendState(VhostUserRequest.SetVringEnable, (uint)q, 1), Is.Zero);
        for (int q = 0; q < 2; q++) Assert.That(SendU64(VhostUserRequest.SetVringCall, (ulong)q, Eventfds[q].WaitFdHandle), Is.Zero);
    }

    /// <summary>As at guest power-off or rmmod: SET_VRING_ENABLE 0 for each queue, then GET_VRING_BASE for each; returns the bases.</summary>
    public uint[] StopQueues()
    {
        for (int q = 0; q < 2; q++) Assert.That(SendState(VhostUserRequest.SetVringEnable, (uint)q, 0), Is.Zero);
        var bases = new uint[2];
        for (int q = 0; q < 2; q++)
        {
            byte[] p = new byte[VringState.Length];
            new VringState((uint)q, 0).Write(p);
            SendRaw((uint)VhostUserRequest.GetVringBase, 1, p);
            (VhostUserHeader h, byte[] reply) = ReadReply();
            Assert.That((VhostUserRequest)h.Request, Is.EqualTo(VhostUserRequest.GetVringBase));
            VringState s = VringState.Read(reply);
            Assert.That(s.Index, Is.EqualTo((uint)q));
            bases[q] = s.Num;
        }
        return bases;
    }

    // ---- data through the device ------------------------------------------------------------------------

    private static ulong RxBuffer(int i) => BufferArea + (ulong)i * BufferSize;
    private static ulong TxBuffer(int i) => BufferArea + 0x40000 + (ulong)i * BufferSize;

    /// <summary>Posts <paramref name="count"/> writable buffers on queue 0 and kicks it.</summary>
    public void PostReceiveBuffers(int count)
    {
        for (int i = 0; i < count; i++)
            Assert.That(Drivers[0].TryAdd(new VirtqBuffer(RxBuffer(i), BufferSize), deviceWritable: true, token: i), Is.True);
        if (Drivers[0].KickPrepare()) Eventfds[0].Ring();
    }

    /// <summary>Sends <paramref name="data"/> on queue 1 and returns what comes back on queue 0.</summary>
    public byte[] RoundTrip(byte[] data, int slot)
    {
        _map.Window(TxBuffer(slot), (ulong)data.Length).Write(0, data);
        Assert.That(Drivers[1].TryAdd(new VirtqBuffer(TxBuffer(slot), (uint)data.Length), deviceWritable: false, token: 1000 + slot), Is.True);
        if (Drivers[1].KickPrepare()) Eventfds[1].Ring();
        UsedBuffer rx = WaitUsed(0);
        byte[] back = new byte[rx.Length];
        _map.Window(RxBuffer(rx.Token), rx.Length).Read(0, back);
        UsedBuffer tx = WaitUsed(1);
        Assert.That(tx.Token, Is.EqualTo(1000 + slot));
        // The receive buffer goes back to the device, as a driver does.
        Assert.That(Drivers[0].TryAdd(new VirtqBuffer(RxBuffer(rx.Token), BufferSize), deviceWritable: true, token: rx.Token), Is.True);
        if (Drivers[0].KickPrepare()) Eventfds[0].Ring();
        return back;
    }

    /// <summary>Waits (on the call eventfd, bounded) for the device to return a chain on <paramref name="queue"/>.</summary>
    public UsedBuffer WaitUsed(int queue, EventFdDoorbell? call = null)
    {
        long deadline = Environment.TickCount64 + (long)Timeout.TotalMilliseconds;
        while (true)
        {
            if (Drivers[queue].TryGetUsed(out UsedBuffer used)) return used;
            long left = deadline - Environment.TickCount64;
            if (left <= 0) throw new AssertionException($"queue {queue}: nothing came back within {Timeout}");
            (call ?? Eventfds[queue]).Wait(TimeSpan.FromMilliseconds(left));
        }
    }

    public void Dispose()
    {
        _socket.Dispose();
        foreach (EventFdDoorbell? e in Eventfds) e?.Dispose();
        foreach (IDisposable d in _owned) d.Dispose();
    }
}

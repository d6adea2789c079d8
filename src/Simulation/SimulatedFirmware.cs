using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Boards;
using AmpCan.Rpmsg;
using AmpCan.Vring;

namespace AmpCan.Simulation;

/// <summary>
/// What the simulated remote's "firmware" declares: its resource table (where, which features, where the vrings
/// are) and the services it announces. The defaults match OpenAMP's Linux machine port: table at 0, two 256-entry
/// vrings with align 0x1000 at 0x4000 and 0x8000, notify ids 1 and 2, feature NS.
/// </summary>
public sealed record SimulatedFirmware
{
    /// <summary>Offset of the resource table in the shared memory.</summary>
    public ulong TableOffset { get; init; }
    /// <summary>Features the rpmsg vdev offers.</summary>
    public uint Features { get; init; } = 1u << VirtioRpmsg.FeatureNameService;
    /// <summary>Entries per vring.</summary>
    public int QueueSize { get; init; } = 256;
    /// <summary>Vring alignment.</summary>
    public uint Align { get; init; } = 0x1000;
    /// <summary>Offsets of vring 0 (remote→host) and vring 1 (host→remote) in the shared memory.</summary>
    public ulong Vring0Offset { get; init; } = 0x4000;
    /// <inheritdoc cref="Vring0Offset"/>
    public ulong Vring1Offset { get; init; } = 0x8000;
    /// <summary>Name of the echo service, or null when the firmware offers none.</summary>
    public string? EchoService { get; init; } = "rpmsg-echo";
    /// <summary>Name of the counter service (Linux's rpmsg_client_sample talks to it), or null.</summary>
    public string? SampleService { get; init; } = "rpmsg-client-sample";
    /// <summary>Name of the raw loopback channel (becomes /dev/rpmsgN on the host), or null.</summary>
    public string? RawService { get; init; } = "rpmsg-raw";
    /// <summary>Replies the counter service sends before it falls silent (rpmsg_client_sample's MSG_LIMIT).</summary>
    public int SampleLimit { get; init; } = 100;
    /// <summary>
    /// How long the counter service waits before its first reply. Linux's <c>rpmsg_client_sample</c> sends its first
    /// message from its probe while it holds the bus's <c>tx_lock</c> across the kick; on virtio-pci (a QEMU guest) the
    /// reply's interrupt runs its callback in hard-IRQ context, which takes that mutex again: a reply that comes before
    /// the probe unlocks makes the guest kernel schedule while atomic and hang. A remote core behind remoteproc (whose
    /// vring interrupts run in a thread) never sees this; a vhost-user back end answering in microseconds does.
    /// </summary>
    public TimeSpan SampleFirstReplyDelay { get; init; }

    /// <summary>Virtio-can vdevs the firmware declares after the rpmsg vdev, one per CAN controller it shares with the host.</summary>
    public int CanControllers { get; init; }
    /// <summary>
    /// Who owns each CAN controller, in table order; one not listed is AmpCan's. The firmware drives a controller AmpCan
    /// owns (AmpCan serves the device), and serves one it owns itself: a virtio-can device on a bus of its own, standing
    /// for the wire, with a simulated ECU on it. Both use the same vdev layout; only the side that serves differs.
    /// </summary>
    public IReadOnlyList<CanControllerOwner> CanOwners { get; init; } = [];
    /// <summary>Entries per virtio-can vring.</summary>
    public int CanQueueSize { get; init; } = 256;
    /// <summary>Where the first controller's area starts in the shared memory: its three vrings, then its driver's buffers.</summary>
    public ulong CanOffset { get; init; } = 0x60000;
    /// <summary>Bytes of shared memory each controller's area takes.</summary>
    public ulong CanStride { get; init; } = 0x20000;
    /// <summary>
    /// What the virtio-can vdevs offer (the table's 32 feature bits): CAN_CLASSIC, CAN_FD, RTR_FRAMES, LATE_TX_ACK,
    /// INDIRECT_DESC and EVENT_IDX; the host's device masks them with its own offer.
    /// </summary>
    public uint CanFeatures { get; init; } = 0xF | 1u << 28 | 1u << 29;

    /// <summary>Offset in the shared memory of the heartbeat word the firmware adds to (the board's core.heartbeat), or null.</summary>
    public ulong? HeartbeatOffset { get; init; }

    /// <summary>How often the firmware beats: a quarter of the board's watchdog period, so that one late beat is no crash.</summary>
    public TimeSpan HeartbeatPeriod { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Offset in the shared memory of the firmware's trace buffer (an RSC_TRACE entry), between the table and the vrings.</summary>
    public ulong TraceOffset { get; init; } = 0x2800;

    /// <summary>Bytes of the trace buffer; 0 for none.</summary>
    public uint TraceSize { get; init; } = 0x800;

    /// <summary>virtio-can's device id (virtio 1.4 §5.22).</summary>
    public const uint CanDeviceId = 36;

    /// <summary>The firmware a board's simulated remote runs: the table where the board has it, the services and CAN controllers the board names.</summary>
    /// <exception cref="BoardException">The board's shared memory cannot hold the CAN controllers' areas.</exception>
    public static SimulatedFirmware For(BoardDescriptor board)
    {
        var firmware = new SimulatedFirmware
        {
            TableOffset = board.ResourceTable.Offset,
            EchoService = board.Remote.Services.Echo,
            SampleService = board.Remote.Services.ClientSample,
            RawService = board.Remote.Services.Raw,
            CanControllers = board.Can.Controllers.Count,
            CanOwners = [.. board.Can.Controllers.Select(c => c.Owner)],
            HeartbeatOffset = board.EffectiveCore.Heartbeat - board.SharedMemory.DeviceAddress,
            HeartbeatPeriod = TimeSpan.FromMilliseconds(Math.Max(1, board.EffectiveCore.WatchdogMs / 4)),
        };
        ulong end = firmware.CanOffset + (ulong)firmware.CanControllers * firmware.CanStride;
        if (firmware.CanControllers > 0 && end > board.SharedMemory.Size)
            throw new BoardException($"board '{board.Name}': the simulated remote's {firmware.CanControllers} CAN controller(s) need shared memory up to 0x{end:x} " +
                $"(0x{firmware.CanStride:x} each from 0x{firmware.CanOffset:x}); sharedMemory.size is 0x{board.SharedMemory.Size:x}");
        return firmware;
    }

    /// <summary>True when controller <paramref name="index"/> is the remote's own (the firmware serves its device).</summary>
    public bool RemoteOwnsCan(int index) => index < CanOwners.Count && CanOwners[index] == CanControllerOwner.Remote;

    /// <summary>Where controller <paramref name="index"/>'s vring <paramref name="queue"/> is, as an offset in the shared memory.</summary>
    public ulong CanVringOffset(int index, int queue)
    {
        ulong ring = ((ulong)VringLayout.LegacySize(CanQueueSize, Align) + Align - 1) / Align * Align; // each ring starts aligned
        return CanOffset + (ulong)index * CanStride + (ulong)queue * ring;
    }

    /// <summary>
    /// Controller <paramref name="index"/>'s driver buffers (offset and size in the shared memory): the rest of its area
    /// after the vrings, used by the firmware's driver of a controller AmpCan owns (AmpCan's driver of a remote-owned one
    /// puts its buffers where the board says).
    /// </summary>
    public (ulong Offset, ulong Size) CanBufferArea(int index)
    {
        ulong start = CanVringOffset(index, 3);
        return (start, CanOffset + (ulong)(index + 1) * CanStride - start);
    }

    /// <summary>The resource table this firmware carries, for a shared memory whose first byte the remote sees at <paramref name="deviceBase"/>.</summary>
    /// <remarks>
    /// The rpmsg vdev (notify ids 1, 2), then one virtio-can vdev per controller: vdev notify id 100 + i (rung for a
    /// configuration change), vrings 3 + 3i to 5 + 3i, a 2-byte config (le16 status).
    /// </remarks>
    public byte[] ResourceTable(ulong deviceBase)
    {
        var table = new ResourceTableBuilder().Vdev(VirtioRpmsg.DeviceId, 0, Features,
        [
            new VringSpec(checked((uint)(deviceBase + Vring0Offset)), Align, (uint)QueueSize, 1),
            new VringSpec(checked((uint)(deviceBase + Vring1Offset)), Align, (uint)QueueSize, 2),
        ]);
        for (int i = 0; i < CanControllers; i++)
            table.Vdev(CanDeviceId, (uint)(100 + i), CanFeatures,
                [.. Enumerable.Range(0, 3).Select(q => new VringSpec(checked((uint)(deviceBase + CanVringOffset(i, q))), Align, (uint)CanQueueSize, (uint)(3 + 3 * i + q)))],
                new byte[2]);
        if (TraceSize > 0) table.Trace(checked((uint)(deviceBase + TraceOffset)), TraceSize, "remote-sim");
        return table.Build();
    }
}

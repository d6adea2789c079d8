using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Boards;
using AmpCan.Rpmsg;

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

    /// <summary>The firmware a board's simulated remote runs: the table where the board has it, the services the board names.</summary>
    public static SimulatedFirmware For(BoardDescriptor board) => new()
    {
        TableOffset = board.ResourceTable.Offset,
        EchoService = board.Remote.Services.Echo,
        SampleService = board.Remote.Services.ClientSample,
        RawService = board.Remote.Services.Raw,
    };

    /// <summary>The resource table this firmware carries, for a shared memory whose first byte the remote sees at <paramref name="deviceBase"/>.</summary>
    public byte[] ResourceTable(ulong deviceBase) => new ResourceTableBuilder()
        .Vdev(VirtioRpmsg.DeviceId, 0, Features,
        [
            new VringSpec(checked((uint)(deviceBase + Vring0Offset)), Align, (uint)QueueSize, 1),
            new VringSpec(checked((uint)(deviceBase + Vring1Offset)), Align, (uint)QueueSize, 2),
        ])
        .Build();
}

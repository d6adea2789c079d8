using System.Text.Json.Serialization;

namespace AmpCan.Remoteproc.Boards;

/// <summary>
/// The CAN controllers a board shares with its remote: each is one virtio-can vdev in the remote's resource table (in
/// table order). A controller AmpCan owns (<see cref="CanControllerOwner.Host"/>, the default) is served by AmpCan as
/// a virtio-can device on an in-process bus or a SocketCAN interface, and the remote's driver uses it; a controller
/// the remote owns (<see cref="CanControllerOwner.Remote"/>) is served by the remote's firmware as a virtio-can device,
/// and AmpCan drives it and bridges it onto its bus or interface, so that Linux programs use the remote's controller.
/// </summary>
public sealed record CanSpec
{
    /// <summary>Most controllers one board shares (a remote rarely has more than a handful of CAN controllers).</summary>
    public const int MaxControllers = 8;
    /// <summary>Vrings of each controller's virtio-can vdev (tx, rx, control), and so notify ids it takes.</summary>
    public const int VringsPerController = 3;

    /// <summary>The controllers, in the order of the remote's virtio-can vdevs.</summary>
    public IReadOnlyList<CanControllerSpec> Controllers { get; init; } = [];

    /// <summary>Settings of the in-process buses the controllers name; a bus named but not listed runs unpaced.</summary>
    public IReadOnlyList<CanBusSpec> Buses { get; init; } = [];

    /// <summary>The settings of bus <paramref name="name"/>, or the defaults.</summary>
    public CanBusSpec Bus(string name) => Buses.FirstOrDefault(b => b.Name == name) ?? new CanBusSpec { Name = name };
}

/// <summary>Who owns a CAN controller, and so which side serves its virtio-can device (board files say <c>"host"</c> or <c>"remote"</c>).</summary>
public enum CanControllerOwner
{
    /// <summary>AmpCan owns it: AmpCan serves the device on its bus or interface, the remote's firmware is the driver.</summary>
    Host,
    /// <summary>
    /// The remote owns it (a controller wired to the remote core): the remote's firmware serves the device, AmpCan is
    /// the driver and bridges the controller onto its bus or interface.
    /// </summary>
    Remote,
}

/// <summary>
/// One shared CAN controller, on an in-process bus (<see cref="Bus"/>) or a SocketCAN interface (<see cref="Interface"/>):
/// AmpCan's virtio-can device there (<see cref="Owner"/> host), or the remote's controller bridged there through
/// AmpCan's virtio-can driver (<see cref="Owner"/> remote).
/// </summary>
public sealed record CanControllerSpec
{
    /// <summary>Longest bus-off restart delay a board may give, in milliseconds (a minute).</summary>
    public const int MaxRestartMs = 60_000;
    /// <summary>How long after a bus-off AmpCan starts a remote-owned controller again when the board does not say.</summary>
    public const int DefaultRestartMs = 100;

    /// <summary>
    /// The controller's name, in logs and candump lines (1 to 15 characters, no spaces, as a Linux interface name);
    /// for a remote-owned controller, the name of AmpCan's driver of it.
    /// </summary>
    public required string Name { get; init; }
    /// <summary>Who owns the controller; default: AmpCan (<see cref="CanControllerOwner.Host"/>).</summary>
    public CanControllerOwner Owner { get; init; } = CanControllerOwner.Host;
    /// <summary>
    /// The in-process bus it is a member of (controllers naming one bus hear each other); a remote-owned controller's
    /// frames are bridged onto it.
    /// </summary>
    public string? Bus { get; init; }
    /// <summary>
    /// The SocketCAN interface (brought up by the system, not by AmpCan) it sends and receives on; a remote-owned
    /// controller's frames are bridged onto it (a vcan, say: candump and cansend there reach the remote's bus).
    /// </summary>
    public string? Interface { get; init; }
    /// <summary>
    /// A file to write what crosses the controller to, as <c>candump -L</c> lines (what <c>canplayer</c> replays): for
    /// a host-owned controller every frame on its bus or interface, under the bus's or interface's name; for a
    /// remote-owned one each frame the bridge carries, under where it came from: the controller's <see cref="Name"/>
    /// for frames from the remote's bus, the bus's or interface's name for frames sent to it. A relative path is from the
    /// service's working directory.
    /// </summary>
    public string? Log { get; init; }
    /// <summary>
    /// Remote-owned only (and required there): where AmpCan's driver puts its buffers, as an offset in the shared memory
    /// (a multiple of 16). Their size follows from the controller's vrings, so the area is checked against the window,
    /// the table, the rpmsg pool, every vring and the other controllers' buffers once the remote's table is read.
    /// </summary>
    [JsonConverter(typeof(HexNumberConverter))] public ulong? BufferOffset { get; init; }
    /// <summary>
    /// Remote-owned only: how long after the remote reports bus-off AmpCan starts the controller again, in milliseconds,
    /// as SocketCAN's <c>restart-ms</c>; 0: it stays stopped (until AmpCan is restarted). Absent: <see cref="DefaultRestartMs"/>.
    /// </summary>
    public int? RestartMs { get; init; }
}

/// <summary>An in-process CAN bus.</summary>
public sealed record CanBusSpec
{
    /// <summary>Highest nominal bit rate (CAN's 1 Mbit/s).</summary>
    public const long MaxBitrate = 1_000_000;
    /// <summary>Highest CAN FD data bit rate accepted (faster than any transceiver: 12 Mbit/s).</summary>
    public const long MaxDataBitrate = 12_000_000;
    /// <summary>Lowest bit rate accepted when pacing (CAN's slowest common rate, 10 kbit/s).</summary>
    public const long MinBitrate = 10_000;

    /// <summary>The bus's name, as controllers name it.</summary>
    public required string Name { get; init; }
    /// <summary>Nominal bit rate to pace frames at, so that bus load looks real; 0 (the default): unpaced.</summary>
    public long Bitrate { get; init; }
    /// <summary>CAN FD data-phase bit rate; 0: the nominal rate.</summary>
    public long DataBitrate { get; init; }
    /// <summary>A SocketCAN interface (a vcan, say) to bridge the bus into, so Linux programs see its traffic; null: none.</summary>
    public string? Interface { get; init; }
}

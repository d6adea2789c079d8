namespace AmpCan.Remoteproc.Boards;

/// <summary>
/// The CAN controllers a board shares with its remote: each is one virtio-can vdev in the remote's resource table (in
/// table order), served by AmpCan on an in-process bus or a SocketCAN interface.
/// </summary>
public sealed record CanSpec
{
    /// <summary>Most controllers one board shares (a remote rarely has more than a handful of CAN controllers).</summary>
    public const int MaxControllers = 8;

    /// <summary>The controllers, in the order of the remote's virtio-can vdevs.</summary>
    public IReadOnlyList<CanControllerSpec> Controllers { get; init; } = [];

    /// <summary>Settings of the in-process buses the controllers name; a bus named but not listed runs unpaced.</summary>
    public IReadOnlyList<CanBusSpec> Buses { get; init; } = [];

    /// <summary>The settings of bus <paramref name="name"/>, or the defaults.</summary>
    public CanBusSpec Bus(string name) => Buses.FirstOrDefault(b => b.Name == name) ?? new CanBusSpec { Name = name };
}

/// <summary>One shared CAN controller: a virtio-can device on an in-process bus (<see cref="Bus"/>) or a SocketCAN interface (<see cref="Interface"/>).</summary>
public sealed record CanControllerSpec
{
    /// <summary>The controller's name, in logs and candump lines (1 to 15 characters, no spaces, as a Linux interface name).</summary>
    public required string Name { get; init; }
    /// <summary>The in-process bus it is a member of (controllers naming one bus hear each other).</summary>
    public string? Bus { get; init; }
    /// <summary>The SocketCAN interface it sends and receives on (brought up by the system, not by AmpCan).</summary>
    public string? Interface { get; init; }
    /// <summary>A file to write the traffic on the controller's bus or interface to, as <c>candump -L</c> lines (what <c>canplayer</c> replays); a relative path is from the service's working directory.</summary>
    public string? Log { get; init; }
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

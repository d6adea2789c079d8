namespace AmpCan.VirtioCan.SocketCan;

/// <summary>How a <see cref="SocketCanPort"/> listens and how much it holds.</summary>
public sealed record SocketCanPortOptions
{
    /// <summary>Frames from other members the port holds until taken; beyond it they are dropped and counted.</summary>
    public int Capacity { get; init; } = 256;

    /// <summary>Room for error frames beyond <see cref="Capacity"/>, so that a flood of data frames does not hide a bus-off.</summary>
    public int ErrorRoom { get; init; } = 16;

    /// <summary>Room for echoes beyond the rest: the port's <see cref="Bus.ICanPort.MaxUnconfirmed"/>.</summary>
    public int EchoRoom { get; init; } = 64;

    /// <summary>The error classes to receive as error frames (CAN_RAW_ERR_FILTER): by default bus-off, controller state changes and restarts.</summary>
    public CanErrorClasses ErrorClasses { get; init; } = CanErrorClasses.BusOff | CanErrorClasses.Controller | CanErrorClasses.Restarted;

    /// <summary>The frames to receive (CAN_RAW_FILTER, at most <see cref="CanFilter.MaxCount"/>); null: all of them.</summary>
    public IReadOnlyList<CanFilter>? Filters { get; init; }

    /// <summary>
    /// The socket's receive buffer to ask for, in bytes: what the kernel holds while the reader is behind (a CAN frame
    /// costs it about a kilobyte). Past net.core.rmem_max only with CAP_NET_ADMIN.
    /// </summary>
    public int ReceiveBufferBytes { get; init; } = 2 << 20;

    /// <summary>
    /// How long a frame may await its echo once the kernel dropped frames from the socket's full receive buffer, with no
    /// later echo vouching that it left, before the port gives it up (its echo may have been among those dropped).
    /// </summary>
    public TimeSpan EchoLossTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How often a missing interface is looked for again, and a down one checked.</summary>
    public TimeSpan RetryInterval { get; init; } = TimeSpan.FromSeconds(1);
}

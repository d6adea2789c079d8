namespace AmpCan.Simulation;

/// <summary>How a <see cref="SimulatedCanNode"/> behaves: its node number, its heartbeat, its recovery from bus-off.</summary>
public sealed record SimulatedCanNodeOptions
{
    /// <summary>The node number, 1 to 127 (as a CANopen node id): the heartbeat goes out with identifier 0x700 + it.</summary>
    public int NodeId { get; init; } = 1;

    /// <summary>Time between heartbeats.</summary>
    public TimeSpan HeartbeatPeriod { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// On a controller the node keeps (built on a driver): how long after a bus-off it starts the controller again (as
    /// SocketCAN's restart-ms); null: it stays off.
    /// </summary>
    public TimeSpan? BusOffRestart { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>On a controller the node keeps: how long it waits for the device to answer START or STOP before it says so.</summary>
    public TimeSpan ControlTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Checks the values, naming the one out of range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A node id outside 1..127, or a period or timeout that is not positive.</exception>
    public void Validate()
    {
        if (NodeId is < 1 or > 127)
            throw new ArgumentOutOfRangeException(nameof(NodeId), NodeId, "a CAN node id is 1 to 127 (its heartbeat identifier is 0x700 + id)");
        if (HeartbeatPeriod <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(HeartbeatPeriod), HeartbeatPeriod, "the heartbeat period must be positive");
        if (BusOffRestart < TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(BusOffRestart), BusOffRestart, "the bus-off restart delay cannot be negative");
        if (ControlTimeout <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(ControlTimeout), ControlTimeout, "the control timeout must be positive");
    }
}

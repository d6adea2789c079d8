namespace AmpCan.Host.Bench;

/// <summary>
/// How a sender on a loop thread that found no free transmit buffer learns that one freed, so that its loop may park
/// in the meantime (<see cref="RpmsgStreamSender"/> arms it when it is blocked and its loop is about to park).
/// </summary>
internal interface ITransmitSpaceSignal
{
    /// <summary>Asks for the loop to be woken when a transmit buffer frees; true if one may be free already (the loop must not park).</summary>
    bool Arm();

    /// <summary>Withdraws the request: the loop polls again.</summary>
    void Disarm();
}

/// <summary>
/// For a bus that cannot wake a parked loop when a transmit buffer frees: the blocked sender keeps its loop polling
/// (every <see cref="Arm"/> answers that a buffer may be free), whatever the loop's mode.
/// </summary>
internal sealed class PolledTransmitSpace : ITransmitSpaceSignal
{
    /// <inheritdoc/>
    public bool Arm() => true;

    /// <inheritdoc/>
    public void Disarm() { }
}

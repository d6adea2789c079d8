using AmpCan.Rpmsg;

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

/// <summary>The rpmsg device's own signal: an armed <see cref="RpmsgTxWaiter"/> makes the peer interrupt when it returns buffers.</summary>
internal sealed class RpmsgTransmitSpace(RpmsgBus bus) : ITransmitSpaceSignal
{
    private readonly RpmsgTxWaiter _waiter = bus.CreateTxWaiter();

    /// <inheritdoc/>
    public bool Arm() => _waiter.Arm();

    /// <inheritdoc/>
    public void Disarm() => _waiter.Disarm();
}

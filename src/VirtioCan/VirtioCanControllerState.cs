using AmpCan.VirtioCan.Validation;
using AmpCan.VirtioCan.Wire;

namespace AmpCan.VirtioCan;

/// <summary>
/// The CAN controller's mode (STOPPED or STARTED) and config <c>status</c>, as the Controlq and the bus change them
/// (virtio 1.4, Controller Mode and BusOff Indication). It starts STOPPED. Pending transmits are the device's: this
/// class only says when to cancel them all, through the callback it was given.
/// </summary>
/// <remarks>
/// Not thread-safe: the device calls it from the one loop that serves its queues, so control requests are processed
/// in the order the driver queued them and a transmit is never admitted halfway through a STOP. A back end that sees
/// bus-off on another thread hands it to that loop.
/// </remarks>
public sealed class VirtioCanControllerState
{
    private readonly Action _cancelPendingTransmits;
    private readonly Action _notifyConfigChange;

    /// <summary>
    /// A stopped controller with status 0. <paramref name="cancelPendingTransmits"/> marks every transmit still
    /// pending used with NOT_OK; <paramref name="notifyConfigChange"/> raises the driver's config-change interrupt.
    /// </summary>
    public VirtioCanControllerState(Action cancelPendingTransmits, Action notifyConfigChange)
    {
        ArgumentNullException.ThrowIfNull(cancelPendingTransmits);
        ArgumentNullException.ThrowIfNull(notifyConfigChange);
        _cancelPendingTransmits = cancelPendingTransmits;
        _notifyConfigChange = notifyConfigChange;
    }

    /// <summary>Whether the controller takes part in bus communication (transmits are admitted, frames delivered).</summary>
    public bool IsStarted { get; private set; }

    /// <summary>The config space's <c>le16 status</c> (<see cref="VirtioCanConfig.StatusBusOff"/> or 0).</summary>
    public ushort Status { get; private set; }

    /// <summary>The config space as the driver reads it.</summary>
    public VirtioCanConfig Config => new(Status);

    /// <summary>
    /// Processes one Controlq request from its device-readable bytes; a request shorter than 2 bytes is answered
    /// NOT_OK and changes nothing.
    /// </summary>
    public VirtioCanResult Control(ReadOnlySpan<byte> request) =>
        VirtioCanControlRequest.TryRead(request, out VirtioCanControlRequest parsed) ? Control(parsed.MessageType) : VirtioCanResult.NotOk;

    /// <summary>
    /// Processes one control request and returns the result to write before marking it used: by then the transition
    /// is complete (pending transmits cancelled on STOP, the bus-off bit cleared on START).
    /// </summary>
    /// <remarks>
    /// The spec does not say what START while started or STOP while stopped answer. Both answer OK and change
    /// nothing: the controller is already in the requested mode, which is what OK reports, and Linux sends STOP to a
    /// controller that bus-off already stopped whenever the interface goes down before a restart.
    /// </remarks>
    public VirtioCanResult Control(VirtioCanMessageType request)
    {
        switch (request)
        {
            case VirtioCanMessageType.Start:
                // START is the recovery from bus-off: the status changes before the request is marked used, and
                // the driver asked for it, so no config-change notification (the spec allows omitting it).
                Status = (ushort)(Status & ~VirtioCanConfig.StatusBusOff);
                IsStarted = true;
                return VirtioCanResult.Ok;
            case VirtioCanMessageType.Stop:
                if (IsStarted)
                {
                    IsStarted = false;
                    _cancelPendingTransmits();
                }
                return VirtioCanResult.Ok;
            default:
                return VirtioCanResult.NotOk;
        }
    }

    /// <summary>Whether a transmit may be scheduled now: <see cref="VirtioCanRejection.ControllerStopped"/> unless started.</summary>
    public VirtioCanRejection AdmitTransmit() => IsStarted ? VirtioCanRejection.None : VirtioCanRejection.ControllerStopped;

    /// <summary>
    /// The bus reported bus-off: the controller stops, the status bit is set, pending transmits are cancelled and
    /// the driver is notified. Returns false, doing nothing, when already stopped (bus-off is a change from started).
    /// </summary>
    public bool EnterBusOff()
    {
        if (!IsStarted)
            return false;
        IsStarted = false;
        Status = (ushort)(Status | VirtioCanConfig.StatusBusOff);
        _cancelPendingTransmits();
        // Last, so that a driver reading status from the interrupt sees the bit and no transmit still pending.
        _notifyConfigChange();
        return true;
    }

    /// <summary>
    /// Device reset: back to stopped with status 0, without cancelling (the rings of pending transmits are gone with
    /// the reset, there is nobody to answer).
    /// </summary>
    public void Reset()
    {
        IsStarted = false;
        Status = 0;
    }
}

namespace AmpCan.Remoteproc.Lifecycle.Mechanisms;

/// <summary>
/// A bootloader (U-Boot's bootaux, TF-A) started the core and AmpCan only serves it (mechanism attach-only): it is
/// always reported running, so the host attaches, and nothing here can start, hold or stop it.
/// </summary>
/// <remarks>
/// Stop refuses rather than doing nothing: Linux stops an attached core through its driver, which knows the core's
/// registers; attach-only knows none, so a stop that returned would leave the core running while the caller believes
/// it stopped. The host detaches instead. Whether the bootloader really started it shows when the host looks for its
/// resource table.
/// </remarks>
public sealed class AttachOnlyMechanism : ICoreMechanism
{
    /// <inheritdoc/>
    public string Description => "attach-only (started by its bootloader)";

    /// <inheritdoc/>
    public bool CanStart => false;

    /// <inheritdoc/>
    public bool LoadsImage => false;

    /// <inheritdoc/>
    public CoreRunState Probe() => CoreRunState.Running;

    /// <inheritdoc/>
    public void Hold() => throw Refuse("hold");

    /// <inheritdoc/>
    public void Start(string? image, CancellationToken cancellation) => throw Refuse("start");

    /// <inheritdoc/>
    public void Stop() => throw Refuse("stop");

    /// <inheritdoc/>
    /// <remarks>Nothing to do: the core was never AmpCan's to stop.</remarks>
    public void Detach() { }

    private static CoreMechanismException Refuse(string what) =>
        new($"attach-only core: AmpCan cannot {what} it: a bootloader starts this core and AmpCan only attaches to it " +
            "(detach to leave it, or give the board a mechanism that controls the core: sysfs-remoteproc or devmem-registers)");
}

namespace AmpCan.Remoteproc.Lifecycle.Mechanisms;

/// <summary>
/// What starts, stops and holds a real remote core (the kernel's remoteproc, a register window, a bootloader), knowing
/// nothing of its devices: the host loads the core's memory and serves its vdevs around these calls.
/// </summary>
/// <remarks>
/// Attaching needs nothing from a mechanism: when <see cref="Probe"/> says the core runs, the host finds the resource
/// table in the core's memory and serves it as it is. A boot is <see cref="Start"/> alone when <see cref="LoadsImage"/>,
/// else <see cref="Hold"/>, the host's load, <see cref="Start"/>. Calls are not made concurrently (the lifecycle
/// serialises its transitions).
/// </remarks>
public interface ICoreMechanism
{
    /// <summary>One line for logs: the mechanism and what it drives ("sysfs-remoteproc remoteproc0 (m4)").</summary>
    string Description { get; }

    /// <summary>False when the core is started and stopped outside AmpCan (attach-only): <see cref="Hold"/>, <see cref="Start"/> and <see cref="Stop"/> refuse.</summary>
    bool CanStart { get; }

    /// <summary>True when <see cref="Start"/> loads the image itself (the kernel does); false when the host loads it between <see cref="Hold"/> and <see cref="Start"/>.</summary>
    bool LoadsImage { get; }

    /// <summary>Whether the core runs now: offline (boot it), running (attach to it), crashed, or unknown.</summary>
    CoreRunState Probe();

    /// <summary>Keeps the core from running while the host writes its memory; nothing to do where the mechanism loads the image itself.</summary>
    void Hold();

    /// <summary>Runs the core: loads <paramref name="image"/> (a name in the board's firmware directory; null: the board's default) and starts it, or, when the host loaded it (<see cref="LoadsImage"/> false), releases it and ignores the name.</summary>
    void Start(string? image, CancellationToken cancellation);

    /// <summary>Stops the core; nothing to do when it is known to be stopped already.</summary>
    void Stop();

    /// <summary>Leaves the core running without AmpCan (the host has torn its devices down); a later <see cref="Probe"/> does not report it offline.</summary>
    void Detach();
}

using AmpCan.Remoteproc.Firmware;
using AmpCan.Remoteproc.Lifecycle;

namespace AmpCan.Remoteproc.Boards;

/// <summary>How a remote core is started and stopped (board files say <c>"sysfs-remoteproc"</c>, <c>"devmem-registers"</c>, …).</summary>
public enum CoreMechanism
{
    /// <summary>AmpCan's simulated remote on a thread of the service (remote.kind "simulated").</summary>
    Simulated,
    /// <summary>AmpCan's simulated remote as a separate process (remote.kind "simulated-process").</summary>
    SimulatedProcess,
    /// <summary>The kernel's remoteproc loads and starts the core; AmpCan writes <c>firmware</c> and <c>state</c> under /sys/class/remoteproc.</summary>
    SysfsRemoteproc,
    /// <summary>AmpCan loads the image and releases or holds the core through a /dev/mem register window (reset, hold-boot bits).</summary>
    DevmemRegisters,
    /// <summary>A bootloader started the core; AmpCan attaches to its resource table and never starts or stops it.</summary>
    AttachOnly,
    /// <summary>Something outside AmpCan runs the remote (OpenAMP's Linux remote, a debugger); remote.kind "external".</summary>
    External,
}

/// <summary>
/// A remote core's lifecycle: how it is started and stopped, its firmware, what happens when it crashes. Only described
/// and validated for now; the host does not carry it out yet.
/// </summary>
public sealed record CoreSpec
{
    /// <summary>Longest heartbeat period: an hour.</summary>
    public const int MaxWatchdogMs = 3_600_000;
    /// <summary>Shortest heartbeat period other than 0 (a shorter one is a busy loop, not a watchdog).</summary>
    public const int MinWatchdogMs = 10;

    /// <summary>How the core is started and stopped.</summary>
    public required CoreMechanism Mechanism { get; init; }
    /// <summary>The firmware directory and default image; absent: none named (attach-only, or the kernel's default image).</summary>
    public FirmwareSpec? Firmware { get; init; }
    /// <summary>sysfs-remoteproc only (and required there): <c>remoteprocN</c>, or the rproc's name to look up under /sys/class/remoteproc.</summary>
    public string? Remoteproc { get; init; }
    /// <summary>devmem-registers only (and required there): the register window and the start, stop and hold sequences.</summary>
    public RegisterWindowSpec? Registers { get; init; }
    /// <summary>What a crash leads to; default: recovery.</summary>
    public RecoveryPolicy Recovery { get; init; } = RecoveryPolicy.Enabled;
    /// <summary>Whether and where a crash writes a core file; default: none.</summary>
    public CoredumpSpec Coredump { get; init; } = new();
    /// <summary>Heartbeat period in milliseconds: a remote silent for longer has crashed; 0 (default): off; else <see cref="MinWatchdogMs"/> to <see cref="MaxWatchdogMs"/>.</summary>
    public int WatchdogMs { get; init; }
    /// <summary>
    /// Device address of the heartbeat: a 32-bit word the firmware adds to more often than <see cref="WatchdogMs"/>
    /// (needs it, 4-byte aligned, inside the shared memory); absent: the watchdog sees only rings that stop moving.
    /// </summary>
    [System.Text.Json.Serialization.JsonConverter(typeof(HexNumberConverter))] public ulong? Heartbeat { get; init; }

    /// <summary>What runs on the core in the host's older terms (<see cref="RemoteSpec.Kind"/>): a real core is external to AmpCan.</summary>
    // A method, not a property: a "remoteKind" key inside core must be refused as unknown, not read by nobody.
    public RemoteKind ToRemoteKind() => Mechanism switch
    {
        CoreMechanism.Simulated => RemoteKind.Simulated,
        CoreMechanism.SimulatedProcess => RemoteKind.SimulatedProcess,
        _ => RemoteKind.External,
    };

    /// <summary>The mechanism <paramref name="kind"/> names, with every other field at its default.</summary>
    public static CoreSpec From(RemoteKind kind) => new()
    {
        Mechanism = kind switch
        {
            RemoteKind.Simulated => CoreMechanism.Simulated,
            RemoteKind.SimulatedProcess => CoreMechanism.SimulatedProcess,
            _ => CoreMechanism.External,
        },
    };
}

/// <summary>Where a core's firmware images are and which one it runs by default.</summary>
public sealed record FirmwareSpec
{
    /// <summary>The directory images are taken from (for sysfs-remoteproc, one the kernel's firmware loader searches, e.g. /lib/firmware).</summary>
    public required string Directory { get; init; }
    /// <summary>The default image: a relative path inside <see cref="Directory"/> (no "..", not absolute).</summary>
    public required string Image { get; init; }
}

/// <summary>Core files written on a crash, bounded in number so that a crash loop cannot fill the disk.</summary>
public sealed record CoredumpSpec
{
    /// <summary>Most core files kept in the directory.</summary>
    public const int MaxMaxFiles = 1000;

    /// <summary>Disabled (default) or enabled.</summary>
    public CoredumpMode Mode { get; init; } = CoredumpMode.Disabled;
    /// <summary>Where core files go (required when enabled).</summary>
    public string? Directory { get; init; }
    /// <summary>Core files kept, 1 to <see cref="MaxMaxFiles"/>; the oldest is removed first.</summary>
    public int MaxFiles { get; init; } = 4;
}

namespace AmpCan.Remoteproc.Lifecycle.Mechanisms;

/// <summary>Where a sysfs-remoteproc mechanism finds the kernel's files, and how long it waits for a state change.</summary>
public sealed record SysfsRemoteprocOptions
{
    /// <summary>The kernel's remoteproc class directory.</summary>
    public const string DefaultClassDirectory = "/sys/class/remoteproc";

    /// <summary>The directory holding remoteprocN/{name,firmware,state}; default the kernel's (tests give a stand-in).</summary>
    public string ClassDirectory { get; init; } = DefaultClassDirectory;

    /// <summary>The kernel's firmware search path; null (default): read from the running kernel (<see cref="KernelFirmwareSearchPath.Read"/>).</summary>
    public IReadOnlyList<string>? FirmwareSearchPath { get; init; }

    /// <summary>Longest wait for <c>state</c> to show the result of a command (start, stop, detach); default 10 s.</summary>
    public TimeSpan StateTimeout { get; init; } = TimeSpan.FromSeconds(10);
}

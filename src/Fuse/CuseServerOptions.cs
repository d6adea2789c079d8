using System.Text.RegularExpressions;

namespace AmpCan.Fuse;

/// <summary>The character device a <see cref="CuseServer"/> creates, what it negotiates, and its node's owner and mode.</summary>
public sealed partial record CuseServerOptions
{
    /// <summary>The most bytes a CUSE request carries: the kernel's default 32 pages (CUSE_INIT cannot raise max_pages).</summary>
    public const int MaxTransfer = 32 * 4096;

    /// <summary>
    /// The device's name (DEVNAME=): the node is /dev/NAME. A '/' makes subdirectories (devtmpfs), as for
    /// "rpmsg/ctrl0"; sysfs shows it with '!' instead. Letters, digits and <c>_.:+@-</c> between the slashes.
    /// </summary>
    public required string DeviceName { get; init; }

    /// <summary>The device's major number; 0 (the default) lets CUSE allocate one.</summary>
    public uint DeviceMajor { get; init; }

    /// <summary>The device's minor number (with a given major; CUSE starts dynamic majors at this minor too).</summary>
    public uint DeviceMinor { get; init; }

    /// <summary>
    /// Largest READ and WRITE the kernel sends in one request (max_read, max_write). A write(2) larger than this, or
    /// spanning more than 32 pages of the caller's memory, reaches the server in pieces (losing its message boundary),
    /// so it should exceed any message the device accepts. 4096 to <see cref="MaxTransfer"/>; default 64 KiB.
    /// </summary>
    public int MaxTransferSize { get; init; } = 64 * 1024;

    /// <summary>
    /// Take CUSE_UNRESTRICTED_IOCTL: ioctls then arrive with no data and the handler asks for the caller's buffers
    /// (<see cref="FuseReply.IoctlRetry"/>); without it the kernel passes what the command's _IOC encoding says. Default true.
    /// </summary>
    public bool UnrestrictedIoctl { get; init; } = true;

    /// <summary>The node's owner (uid) once it exists; null leaves root's.</summary>
    public uint? NodeOwner { get; init; }

    /// <summary>The node's group (gid) once it exists; null leaves root's.</summary>
    public uint? NodeGroup { get; init; }

    /// <summary>The node's permission bits (at most 0777) once it exists; null leaves the kernel's 0600.</summary>
    public uint? NodeMode { get; init; }

    /// <summary>How long <see cref="CuseServer.Open"/> waits for CUSE_INIT and for the node to appear under /dev.</summary>
    public TimeSpan NodeTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long <see cref="CuseServer.Dispose"/> waits for the loop to see the connection end.</summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Throws <see cref="ArgumentException"/> naming the field and value that the kernel or this server would refuse.</summary>
    public void Validate()
    {
        if (string.IsNullOrEmpty(DeviceName) || DeviceName.Length > 200 || !NamePattern().IsMatch(DeviceName)
            || DeviceName.Split('/').Any(c => c is "." or ".."))
            throw new ArgumentException(
                $"DeviceName '{DeviceName}' is not a device name: 1 to 200 of letters, digits and _.:+@- in '/'-separated parts, none '.' or '..'",
                nameof(DeviceName));
        if (DeviceMajor > 4095) throw new ArgumentException($"DeviceMajor {DeviceMajor} is over 4095 (MINORBITS 20 leaves 12 bits)", nameof(DeviceMajor));
        if (DeviceMinor > 0xFFFFF) throw new ArgumentException($"DeviceMinor {DeviceMinor} is over 1048575 (20 bits)", nameof(DeviceMinor));
        if (MaxTransferSize < 4096 || MaxTransferSize > MaxTransfer)
            throw new ArgumentException($"MaxTransferSize {MaxTransferSize} is outside 4096 to {MaxTransfer} bytes", nameof(MaxTransferSize));
        if (NodeMode > 0x1FF) throw new ArgumentException($"NodeMode 0{Convert.ToString(NodeMode.Value, 8)} has bits beyond 0777", nameof(NodeMode));
        if (NodeOwner == uint.MaxValue) throw new ArgumentException("NodeOwner 4294967295 is (uid_t)-1, which chown reads as 'unchanged'", nameof(NodeOwner));
        if (NodeGroup == uint.MaxValue) throw new ArgumentException("NodeGroup 4294967295 is (gid_t)-1, which chown reads as 'unchanged'", nameof(NodeGroup));
    }

    [GeneratedRegex("^[A-Za-z0-9_.:+@-]+(/[A-Za-z0-9_.:+@-]+)*$")]
    private static partial Regex NamePattern();
}

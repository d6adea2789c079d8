using System.Diagnostics;
using AmpCan.SharedMem;
using Microsoft.Extensions.Logging;

namespace AmpCan.Fuse;

/// <summary>
/// A CUSE device's traces outside the protocol: its sysfs directory (/sys/class/cuse/NAME, '/' written '!'), which
/// tells the major:minor CUSE gave it and takes an abort, and its node /dev/NAME, which devtmpfs makes root 0600 and
/// which the front end gives the configured owner and mode (as udev rules would) or removes to hide the device.
/// </summary>
public sealed class CuseDeviceNode
{
    private const int ENOENT = 2, ETIMEDOUT = 110, EEXIST = 17;
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(5);

    private readonly ILogger _logger;

    private CuseDeviceNode(string name, uint major, uint minor, ILogger logger)
    {
        Name = name;
        Path = "/dev/" + name;
        Major = major;
        Minor = minor;
        _logger = logger;
    }

    /// <summary>The device's name (DEVNAME).</summary>
    public string Name { get; }

    /// <summary>The node: /dev/NAME.</summary>
    public string Path { get; }

    /// <summary>The major number CUSE registered.</summary>
    public uint Major { get; }

    /// <summary>The minor number CUSE registered.</summary>
    public uint Minor { get; }

    /// <summary>True once <see cref="Hide"/> removed the node.</summary>
    public bool IsHidden { get; private set; }

    /// <summary>/sys/class/cuse/NAME for <paramref name="name"/>: the kernel's device names write '/' as '!'.</summary>
    public static string SysfsDirectory(string name) => "/sys/class/cuse/" + name.Replace('/', '!');

    /// <summary>True when a CUSE device named <paramref name="name"/> exists (CUSE would refuse a second one).</summary>
    internal static bool Exists(string name) => Directory.Exists(SysfsDirectory(name));

    /// <summary>
    /// Waits (up to <paramref name="timeout"/>, or until <paramref name="gone"/> says the connection ended) for sysfs to
    /// show the device's number and for its node to be that character device; throws <see cref="FuseMountException"/>
    /// naming the path that did not appear.
    /// </summary>
    internal static CuseDeviceNode WaitFor(string name, TimeSpan timeout, Func<bool> gone, ILogger logger)
    {
        string devFile = SysfsDirectory(name) + "/dev";
        var clock = Stopwatch.StartNew();
        (uint Major, uint Minor)? number = null;
        while (number is null)
        {
            if (gone()) throw FuseMountException.Because(
                $"CUSE refused device '{name}' and closed the connection (the name or its major:minor taken? see the kernel log)", EEXIST);
            number = ReadNumber(devFile);
            if (number is null && !Wait(clock, timeout))
                throw FuseMountException.Because($"'{devFile}' did not appear within {timeout.TotalSeconds:F1} s after CUSE_INIT", ETIMEDOUT);
        }
        var node = new CuseDeviceNode(name, number.Value.Major, number.Value.Minor, logger);
        while (true)
        {
            int rc = DeviceNode.Stat(node.Path, out DeviceNodeStatus st);
            if (rc == 0 && st.IsCharacterDevice && st.Major == node.Major && st.Minor == node.Minor) return node;
            if (rc != 0 && rc != -ENOENT) throw new FuseMountException($"stat '{node.Path}'", -rc);
            if (!Wait(clock, timeout))
                throw FuseMountException.Because(rc == 0
                    ? $"'{node.Path}' is not character device {node.Major}:{node.Minor} (mode {st.Mode:X}, {st.Major}:{st.Minor}) after {timeout.TotalSeconds:F1} s"
                    : $"'{node.Path}' did not appear within {timeout.TotalSeconds:F1} s (is devtmpfs mounted on /dev?)", ETIMEDOUT);
        }
    }

    /// <summary>Gives the node <paramref name="owner"/>, <paramref name="group"/> and <paramref name="mode"/> (each null: left alone); throws naming the path.</summary>
    public void Apply(uint? owner, uint? group, uint? mode)
    {
        if (owner is not null || group is not null)
        {
            int rc = DeviceNode.Chown(Path, owner ?? uint.MaxValue, group ?? uint.MaxValue);
            if (rc != 0) throw new FuseMountException($"chown '{Path}' to {Show(owner)}:{Show(group)}", -rc);
        }
        if (mode is uint m)
        {
            int rc = DeviceNode.Chmod(Path, m);
            if (rc != 0) throw new FuseMountException($"chmod '{Path}' to 0{Convert.ToString(m, 8)}", -rc);
        }
    }

    /// <summary>
    /// Removes the node: nobody can open the device any more, while descriptors already open keep reaching the
    /// server until their last close (the connection stays). Removing it twice is no error; throws naming the path.
    /// </summary>
    public void Hide()
    {
        int rc = DeviceNode.Unlink(Path);
        if (rc != 0 && rc != -ENOENT) throw new FuseMountException($"unlink '{Path}'", -rc);
        if (!IsHidden) _logger.LogInformation("CUSE device {Name}: {Path} removed; open descriptors still reach the server", Name, Path);
        IsHidden = true;
    }

    /// <summary>
    /// Writes the sysfs abort attribute of device <paramref name="name"/>: the kernel ends the connection (as closing
    /// /dev/cuse does), so the loop's read returns. 0, or -ENOENT when there is no such device, or -1 (logged).
    /// </summary>
    internal static int Abort(string name, ILogger logger)
    {
        try
        {
            File.WriteAllText(SysfsDirectory(name) + "/abort", "1");
            return 0;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return -ENOENT; // gone already, or never registered
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            logger.LogWarning("Aborting CUSE device {Name} through sysfs failed: {Error}", name, e.Message);
            return -1;
        }
    }

    private static (uint, uint)? ReadNumber(string devFile)
    {
        string text;
        try
        {
            text = File.ReadAllText(devFile).Trim();
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        string[] parts = text.Split(':');
        if (parts.Length == 2 && uint.TryParse(parts[0], out uint major) && uint.TryParse(parts[1], out uint minor)) return (major, minor);
        throw FuseMountException.Because($"'{devFile}' says '{text}', not MAJOR:MINOR", 5);
    }

    // The node and the sysfs file appear within the CUSE_INIT reply's write on devtmpfs; the wait is for systems where a
    // device manager makes nodes later. A short poll bounded by the timeout: this runs once per device, at start.
    private static bool Wait(Stopwatch clock, TimeSpan timeout)
    {
        if (clock.Elapsed >= timeout) return false;
        Thread.Sleep(PollInterval);
        return true;
    }

    private static string Show(uint? id) => id?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-";
}

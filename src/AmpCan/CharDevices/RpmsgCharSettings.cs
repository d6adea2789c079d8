using AmpCan.Host.Commands;
using AmpCan.Host.Control;
using AmpCan.RpmsgChar.FrontEnds;
using Microsoft.Extensions.Configuration;

namespace AmpCan.Host.CharDevices;

/// <summary>Which front end serves the rpmsg_char files.</summary>
public enum RpmsgCharFrontEndKind
{
    /// <summary>CUSE when /dev/cuse can be opened, else FUSE when /dev/fuse can, else none (said once in the log).</summary>
    Auto,
    /// <summary>Character devices under /dev through CUSE; the service does not start without it.</summary>
    Cuse,
    /// <summary>Files in a FUSE directory; the service does not start without it.</summary>
    Fuse,
    /// <summary>No files.</summary>
    None,
}

/// <summary>
/// The rpmsg_char front end's configuration (section <c>AmpCan:RpmsgChar</c>): <c>FrontEnd</c> (auto, cuse, fuse, none),
/// <c>Directory</c> (the FUSE mount point; default <c>rpmsg</c> in systemd's runtime directory, else
/// <c>/run/ampcan/rpmsg</c>), <c>Owner</c>, <c>Group</c> (name or number) and <c>Mode</c> (octal) of every file, root's
/// 0600 by default as devtmpfs gives the kernel's devices.
/// </summary>
public sealed record RpmsgCharSettings
{
    /// <summary>The configuration section.</summary>
    public const string Section = "AmpCan:RpmsgChar";
    /// <summary>Where the FUSE directory goes without systemd's runtime directory.</summary>
    public const string DefaultDirectory = "/run/ampcan/rpmsg";

    /// <summary>The front end asked for.</summary>
    public RpmsgCharFrontEndKind FrontEnd { get; init; } = RpmsgCharFrontEndKind.Auto;
    /// <summary>The FUSE mount point.</summary>
    public string Directory { get; init; } = DefaultDirectory;
    /// <summary>Owner, group and mode of the files.</summary>
    public RpmsgCharFileAccess Access { get; init; } = RpmsgCharFileAccess.RootOnly;

    /// <summary>Reads the settings; a wrong value is a <see cref="ConfigurationValueException"/> naming its key.</summary>
    public static RpmsgCharSettings From(IConfiguration configuration, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        IConfigurationSection s = configuration.GetSection(Section);
        string? frontEnd = NonEmpty(s["FrontEnd"]);
        RpmsgCharFrontEndKind kind = RpmsgCharFrontEndKind.Auto;
        if (frontEnd is not null && !Enum.TryParse(frontEnd, ignoreCase: true, out kind))
            throw new ConfigurationValueException($"configuration {Section}:FrontEnd: '{frontEnd}' is not one of auto, cuse, fuse, none");
        string directory = NonEmpty(s["Directory"])
            ?? (Service.SystemdRuntimeDirectory.From(environment) is string runtime ? Path.Combine(runtime, "rpmsg") : DefaultDirectory);
        uint owner = 0, group = 0, mode = 0x180;
        try
        {
            if (NonEmpty(s["Owner"]) is string o) owner = UnixAccounts.UserId(o, $"{Section}:Owner");
            if (NonEmpty(s["Group"]) is string g) group = UnixAccounts.GroupId(g, $"{Section}:Group");
        }
        catch (ControlSocketException e)
        {
            throw new ConfigurationValueException(e.Message);
        }
        if (NonEmpty(s["Mode"]) is string m)
        {
            try { mode = Convert.ToUInt32(m, 8); }
            catch (Exception e) when (e is FormatException or OverflowException or ArgumentException) { mode = uint.MaxValue; }
            if (mode > 0x1FF) throw new ConfigurationValueException($"configuration {Section}:Mode: '{m}' is not a permission in octal, 0000 to 0777 (such as 0660)");
        }
        return new RpmsgCharSettings { FrontEnd = kind, Directory = directory, Access = new RpmsgCharFileAccess(owner, group, mode) };
    }

    private static string? NonEmpty(string? v) => string.IsNullOrWhiteSpace(v) ? null : v.Trim();
}

using AmpCan.Host.Commands;
using Microsoft.Extensions.Configuration;

namespace AmpCan.Host.Control;

/// <summary>
/// Where the service's control socket is and who may use it, from the configuration (section <c>AmpCan</c>):
/// <c>ControlSocket</c> (a path, or <c>none</c>), <c>ControlSocketMode</c> (octal, default 0600),
/// <c>ControlSocketOwner</c> and <c>ControlSocketGroup</c> (name or number, default: the service's own).
/// </summary>
/// <remarks>
/// Without a configured path: <c>$RUNTIME_DIRECTORY/ampcan.sock</c> when systemd gives the service a runtime
/// directory (<c>RuntimeDirectory=ampcan</c>), else <c>/run/ampcan/ampcan.sock</c> when this process may create it
/// (root), else <c>$XDG_RUNTIME_DIR/ampcan.sock</c> (a user's own service). A path that was asked for (configured, or
/// systemd's directory) must work or the service does not start; a path only guessed is given up with a warning.
/// </remarks>
public sealed record ControlSocketSettings
{
    /// <summary>The configuration key of the path.</summary>
    public const string PathKey = "AmpCan:ControlSocket";
    /// <summary>The configuration key of the mode.</summary>
    public const string ModeKey = "AmpCan:ControlSocketMode";
    /// <summary>The configuration key of the owner.</summary>
    public const string OwnerKey = "AmpCan:ControlSocketOwner";
    /// <summary>The configuration key of the group.</summary>
    public const string GroupKey = "AmpCan:ControlSocketGroup";
    /// <summary>The socket's file name in a runtime directory.</summary>
    public const string FileName = "ampcan.sock";
    /// <summary>The directory root's services use when systemd does not name one.</summary>
    public const string SystemDirectory = "/run/ampcan";

    /// <summary>The socket path, or null for none (configured off, or nowhere to put it: <see cref="Why"/>).</summary>
    public string? Path { get; init; }
    /// <summary>True when the path was asked for, so that failing to bind it stops the service.</summary>
    public bool Required { get; init; }
    /// <summary>True when the configuration turned the socket off (<c>none</c>).</summary>
    public bool Off { get; init; }
    /// <summary>Why there is no path, when <see cref="Path"/> is null.</summary>
    public string? Why { get; init; }
    /// <summary>The socket file's permissions (connecting needs write permission).</summary>
    public UnixFileMode Mode { get; init; } = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    /// <summary>The socket file's owner as configured (name or uid), or null for the service's user.</summary>
    public string? Owner { get; init; }
    /// <summary>The socket file's group as configured (name or gid), or null for the service's group.</summary>
    public string? Group { get; init; }

    /// <summary>The service's settings from <paramref name="configuration"/> and the environment.</summary>
    /// <exception cref="ConfigurationValueException">The mode is not an octal permission; the key is named.</exception>
    public static ControlSocketSettings ForService(IConfiguration configuration, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var settings = new ControlSocketSettings
        {
            Mode = ParseMode(NonEmpty(configuration[ModeKey])),
            Owner = NonEmpty(configuration[OwnerKey]),
            Group = NonEmpty(configuration[GroupKey]),
        };
        string? configured = NonEmpty(configuration[PathKey]);
        if (configured is not null)
            return configured == "none" ? settings with { Off = true, Why = $"{PathKey} is none" } : settings with { Path = configured, Required = true };
        if (Service.SystemdRuntimeDirectory.From(environment) is string runtime) return settings with { Path = System.IO.Path.Combine(runtime, FileName), Required = true };
        if (SystemDirectoryUsable()) return settings with { Path = System.IO.Path.Combine(SystemDirectory, FileName) };
        if (NonEmpty(environment("XDG_RUNTIME_DIR")) is string user) return settings with { Path = System.IO.Path.Combine(user, FileName) };
        return settings with { Why = $"no runtime directory (RUNTIME_DIRECTORY, {SystemDirectory} writable, XDG_RUNTIME_DIR): set {PathKey}" };
    }

    /// <summary>
    /// Where a client looks for the service: <paramref name="given"/>, else the configured path, else the first default
    /// that exists (systemd's runtime directory, <c>/run/ampcan</c>, the user's runtime directory), else <c>/run/ampcan/ampcan.sock</c>.
    /// </summary>
    public static string ForClient(string? given, IConfiguration configuration, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        if (NonEmpty(given) is string path) return path;
        if (NonEmpty(configuration[PathKey]) is string configured && configured != "none") return configured;
        string system = System.IO.Path.Combine(SystemDirectory, FileName);
        string?[] candidates =
        [
            Service.SystemdRuntimeDirectory.From(environment) is string runtime ? System.IO.Path.Combine(runtime, FileName) : null,
            system,
            NonEmpty(environment("XDG_RUNTIME_DIR")) is string user ? System.IO.Path.Combine(user, FileName) : null,
        ];
        return candidates.FirstOrDefault(c => c is not null && File.Exists(c)) ?? system;
    }

    /// <summary>The mode as <c>ls</c> would show it in octal, such as "0600".</summary>
    public string ModeText => "0" + Convert.ToString((int)Mode, 8);

    private static bool SystemDirectoryUsable() =>
        Directory.Exists(SystemDirectory) ? UnixFileCalls.CanCreateIn(SystemDirectory) : UnixFileCalls.CanCreateIn(System.IO.Path.GetDirectoryName(SystemDirectory)!);

    private static UnixFileMode ParseMode(string? text)
    {
        if (text is null) return UnixFileMode.UserRead | UnixFileMode.UserWrite;
        try
        {
            int mode = Convert.ToInt32(text, 8);
            if (mode is >= 0 and <= 0x1FF) return (UnixFileMode)mode;
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException) { }
        throw new ConfigurationValueException($"configuration {ModeKey} (environment {ModeKey.Replace(":", "__", StringComparison.Ordinal)}): '{text}' is not a permission in octal, 0000 to 0777 (such as 0660)");
    }

    private static string? NonEmpty(string? s) => string.IsNullOrWhiteSpace(s) ? null : s;
}

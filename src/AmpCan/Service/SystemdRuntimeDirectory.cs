namespace AmpCan.Host.Service;

/// <summary>The runtime directory systemd gives the service (<c>RuntimeDirectory=</c>), for its socket and its state.</summary>
public static class SystemdRuntimeDirectory
{
    /// <summary>
    /// The first directory of <c>$RUNTIME_DIRECTORY</c> (systemd sets it colon-separated, one per RuntimeDirectory=
    /// entry; the first is ours), or null outside systemd.
    /// </summary>
    public static string? From(Func<string, string?> environment) =>
        environment("RUNTIME_DIRECTORY")?.Split(':')[0] is string first && !string.IsNullOrWhiteSpace(first) ? first : null;
}

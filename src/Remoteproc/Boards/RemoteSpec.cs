namespace AmpCan.Remoteproc.Boards;

/// <summary>What runs on the remote core.</summary>
public enum RemoteKind
{
    /// <summary>AmpCan's simulated remote on a thread of the service.</summary>
    Simulated,
    /// <summary>AmpCan's simulated remote as a separate process (<c>ampcan remote-sim</c>).</summary>
    SimulatedProcess,
    /// <summary>Something else (real firmware, OpenAMP's remote): AmpCan only plays the host.</summary>
    External,
}

/// <summary>The remote core of a board.</summary>
public sealed record RemoteSpec
{
    /// <summary>What runs there; default simulated.</summary>
    public RemoteKind Kind { get => _kind ?? RemoteKind.Simulated; init => _kind = value; }
    // Null when nobody gave the kind: a board's core mechanism then decides it (BoardDescriptor.Remote).
    private readonly RemoteKind? _kind;
    /// <summary>Whether the kind was given (by the file or the code), not the default.</summary>
    internal bool KindGiven => _kind is not null;
    /// <summary>Longest start timeout: a day (a longer wait is a mistake, and <see cref="TimeSpan"/> ends near 29 000 years).</summary>
    public const double MaxStartTimeoutSeconds = 86_400;
    /// <summary>Shortest start timeout: the host waits in milliseconds.</summary>
    public const double MinStartTimeoutSeconds = 0.001;

    /// <summary>
    /// The services the remote offers, by the names it announces (1 to 31 UTF-8 bytes each, as rpmsg names): the
    /// simulated remote offers exactly these, and the host's tools (echo-test) look for them. Absent: all three defaults.
    /// </summary>
    public RemoteServicesSpec Services { get; init; } = RemoteServicesSpec.Defaults;
    /// <summary>How long the host waits for the remote's resource table and for it to connect, <see cref="MinStartTimeoutSeconds"/> to <see cref="MaxStartTimeoutSeconds"/>.</summary>
    public double StartTimeoutSeconds { get; init; } = 30;
}

/// <summary>The rpmsg services a board's remote offers; a service not named is not offered.</summary>
public sealed record RemoteServicesSpec
{
    /// <summary>Echo, rpmsg-client-sample and rpmsg-raw under their usual names.</summary>
    public static readonly RemoteServicesSpec Defaults = new() { Echo = "rpmsg-echo", ClientSample = "rpmsg-client-sample", Raw = "rpmsg-raw" };

    /// <summary>The echo service (OpenAMP's rpmsg-echo announces rpmsg-openamp-demo-channel).</summary>
    public string? Echo { get; init; }
    /// <summary>The counter service Linux's rpmsg_client_sample talks to.</summary>
    public string? ClientSample { get; init; }
    /// <summary>A raw loopback channel (becomes /dev/rpmsgN on the host).</summary>
    public string? Raw { get; init; }

    /// <summary>The services named, with the field each came from.</summary>
    public IEnumerable<(string Field, string Name)> Named()
    {
        if (Echo is not null) yield return ("echo", Echo);
        if (ClientSample is not null) yield return ("clientSample", ClientSample);
        if (Raw is not null) yield return ("raw", Raw);
    }
}

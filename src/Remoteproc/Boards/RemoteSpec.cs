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
    /// <summary>What runs there.</summary>
    public RemoteKind Kind { get; init; } = RemoteKind.Simulated;
    /// <summary>Longest start timeout: a day (a longer wait is a mistake, and <see cref="TimeSpan"/> ends near 29 000 years).</summary>
    public const double MaxStartTimeoutSeconds = 86_400;
    /// <summary>Shortest start timeout: the host waits in milliseconds.</summary>
    public const double MinStartTimeoutSeconds = 0.001;

    /// <summary>Name the simulated remote's echo service announces (1 to 31 UTF-8 bytes, as an rpmsg name).</summary>
    public string EchoService { get; init; } = "rpmsg-echo";
    /// <summary>How long the host waits for the remote's resource table and for it to connect, <see cref="MinStartTimeoutSeconds"/> to <see cref="MaxStartTimeoutSeconds"/>.</summary>
    public double StartTimeoutSeconds { get; init; } = 30;
}

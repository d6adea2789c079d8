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
    /// <summary>Name the simulated remote's echo service announces.</summary>
    public string EchoService { get; init; } = "rpmsg-echo";
    /// <summary>How long the host waits for the remote's resource table and for it to connect.</summary>
    public double StartTimeoutSeconds { get; init; } = 30;
}

namespace AmpCan.Fuse;

/// <summary>What <see cref="FuseServer"/> negotiates and how it mounts.</summary>
public sealed record FuseServerOptions
{
    /// <summary>
    /// Largest WRITE payload per request. A write(2) larger than this reaches the server split into several
    /// requests, losing its message boundary, so it should exceed any message the front end accepts. Default 1 MiB
    /// (256 pages, the kernel's default max_pages limit).
    /// </summary>
    public int MaxWrite { get; init; } = 1 << 20;

    /// <summary>Mount options after <c>fd=N,</c>: a directory root owned by root, open to other users.</summary>
    public string MountOptions { get; init; } = "rootmode=40000,user_id=0,group_id=0,allow_other";

    /// <summary>How long <see cref="FuseServer.Dispose"/> waits for the loop to see the unmount.</summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(5);
}

using AmpCan.SharedMem.Diagnostics;

namespace AmpCan.VhostUser;

/// <summary>How a <see cref="VhostUserBackend"/> treats its front ends.</summary>
public sealed record VhostUserBackendOptions
{
    /// <summary>
    /// Accept guest memory whose descriptor is not sealed against shrinking (QEMU's <c>memory-backend-file</c>, or
    /// <c>memory-backend-memfd,seal=off</c>). Off by default: such a front end can truncate the memory under the back
    /// end, and the next access to a lost page kills this whole process (SIGBUS), every other device with it. QEMU's
    /// <c>memory-backend-memfd</c> seals by default, so it needs nothing here.
    /// </summary>
    public bool AcceptUnsealedMemory { get; init; }

    /// <summary>The limiter for log lines a misbehaving front end causes (default: 10 per 5 s per back end).</summary>
    public RateLimitedLog? PeerErrorLog { get; init; }
}

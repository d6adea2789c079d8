namespace AmpCan.Remoteproc.Lifecycle;

/// <summary>
/// One run of a remote core as the host serves it: begun by the factory given to <see cref="RemoteCoreLifecycle"/>
/// (core started or attached, devices up), ended by <see cref="IDisposable.Dispose"/> (devices torn down, core stopped)
/// or <see cref="Detach"/> (devices torn down, core left running).
/// </summary>
public interface IRemoteCoreSession : IDisposable
{
    /// <summary>Completes, with what was seen, when the session sees the remote crash; never completes otherwise.</summary>
    Task<string> Crashed { get; }

    /// <summary>Why the core could not be left running without this host (it lives in this process, say); null when it can.</summary>
    string? CannotDetach => null;

    /// <summary>Tears the devices down and leaves the core running.</summary>
    void Detach();
}

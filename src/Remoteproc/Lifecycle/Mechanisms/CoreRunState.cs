namespace AmpCan.Remoteproc.Lifecycle.Mechanisms;

/// <summary>What a mechanism can tell of its core before the host serves it, so that the host boots it or attaches to it.</summary>
public enum CoreRunState
{
    /// <summary>Not running: boot it.</summary>
    Offline,
    /// <summary>Running already (started by a bootloader or the kernel, or left running by a detach): attach to it.</summary>
    Running,
    /// <summary>Crashed, and held so by whoever runs it (Linux with recovery disabled): it must be recovered before it is served.</summary>
    Crashed,
    /// <summary>The mechanism cannot tell (reset and hold-boot registers do not say whether firmware runs): the board's user decides.</summary>
    Unknown,
}

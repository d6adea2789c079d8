namespace AmpCan.Remoteproc.Lifecycle;

/// <summary>A remote core's state, named as Linux's remoteproc names them in <c>/sys/class/remoteproc/*/state</c>.</summary>
public enum RemoteCoreState
{
    /// <summary>Not running, or not known to run: nothing is served.</summary>
    Offline,
    /// <summary>Booted by us (firmware loaded, core started) and served.</summary>
    Running,
    /// <summary>Crashed: its devices are torn down; it waits for recovery, or stays so when recovery is disabled or it crashed in a loop.</summary>
    Crashed,
    /// <summary>Started by someone else (a bootloader, the kernel) and served by us without restarting it.</summary>
    Attached,
    /// <summary>Left running on its own after being served: nothing is served, the core was not stopped.</summary>
    Detached,
}

/// <summary>What to do after a crash, as Linux's <c>/sys/class/remoteproc/*/recovery</c>.</summary>
public enum RecoveryPolicy
{
    /// <summary>Tear down, restart and serve again (with back-off when it crashes in a loop).</summary>
    Enabled,
    /// <summary>Stay crashed (for debugging) until told to recover once.</summary>
    Disabled,
}

/// <summary>How a session begins.</summary>
public enum CoreStartMode
{
    /// <summary>Load the firmware and start the core.</summary>
    Boot,
    /// <summary>The core already runs: find its resource table and serve it as it is (rings hold state).</summary>
    Attach,
}

namespace AmpCan.VirtioCan.SocketCan;

/// <summary>Where a <see cref="SocketCanPort"/>'s interface stands.</summary>
public enum SocketCanPortState
{
    /// <summary>No such interface (or the kernel has no SocketCAN): the port looks for it again every retry interval.</summary>
    Missing,
    /// <summary>The interface exists but is down: nothing is sent or received until it is up.</summary>
    Down,
    /// <summary>The interface is up: the port serves.</summary>
    Up,
}

namespace AmpCan.Rpmsg;

/// <summary>
/// A sender that does not block: when <see cref="RpmsgEndpoint.TrySend"/> finds no free transmit buffer it arms this,
/// and while armed the device asks the peer to interrupt when it returns buffers, so the loop that runs the sender may
/// park meanwhile (as Linux's rpmsg_poll registers a sleeper for EPOLLOUT). Disarm it once sending goes on.
/// </summary>
public sealed class RpmsgTxWaiter : IDisposable
{
    private readonly RpmsgBus _bus;
    private int _armed;

    internal RpmsgTxWaiter(RpmsgBus bus) => _bus = bus;

    /// <summary>True while armed.</summary>
    public bool IsArmed => Volatile.Read(ref _armed) != 0;

    /// <summary>
    /// Arms (once; arming again only re-checks) and returns true when a transmit buffer may be free already: try again
    /// rather than wait. Side effect: transmit-complete notifications are on until the last armed waiter disarms.
    /// </summary>
    public bool Arm()
    {
        if (Interlocked.Exchange(ref _armed, 1) == 0) _bus.AddTxWaiter();
        return _bus.ArmTxNotifications();
    }

    /// <summary>Disarms; the last waiter leaving turns transmit-complete notifications off again.</summary>
    public void Disarm()
    {
        if (Interlocked.Exchange(ref _armed, 0) != 0) _bus.RemoveTxWaiter();
    }

    /// <summary>Disarms.</summary>
    public void Dispose() => Disarm();
}

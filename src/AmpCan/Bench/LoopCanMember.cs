using AmpCan.SharedMem.Doorbells;
using AmpCan.VirtioCan.Bus;

namespace AmpCan.Host.Bench;

/// <summary>
/// A benchmark's CAN port user served on a <see cref="NotificationLoop"/>'s thread: takes the port's frames in
/// <see cref="Work"/>, and is woken by a frame only when its loop is about to park (as the virtio-can driver's senders
/// do), so that a spinning or working loop costs the sending thread no system call.
/// </summary>
internal abstract class LoopCanMember : INotificationHandler, IDisposable
{
    private readonly NotificationLoop _loop;
    private int _parking; // 1 from the loop's last look before parking to its next pass

    protected LoopCanMember(ICanPort port, NotificationLoop loop)
    {
        Port = port;
        _loop = loop;
        port.FrameArrived = WakeIfParked;
    }

    /// <summary>The port this member takes frames from and sends on.</summary>
    protected ICanPort Port { get; }

    /// <summary>The loop serving this member.</summary>
    protected NotificationLoop Loop => _loop;

    /// <summary>
    /// Any thread: wakes the loop if it may be parking. The loop sets its flag and then looks for work once more; a
    /// waker makes its work visible and then reads the flag: with a full fence on each side one sees the other. On the
    /// loop's own thread there is nothing to wake: the pass that made the work goes round again.
    /// </summary>
    public void WakeIfParked()
    {
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref _parking) != 0 && !_loop.IsCurrentThread) _loop.Wake();
    }

    /// <summary>The member's work on its loop; true if it did any.</summary>
    protected abstract bool Work();

    /// <summary>True when the member has work besides frames waiting on its port (the loop must not park).</summary>
    protected virtual bool HasWork => false;

    public bool Process()
    {
        if (Volatile.Read(ref _parking) != 0) Volatile.Write(ref _parking, 0);
        return Work();
    }

    public bool ArmNotifications()
    {
        Volatile.Write(ref _parking, 1);
        Interlocked.MemoryBarrier();
        return Port.Pending > 0 || HasWork;
    }

    public void DisarmNotifications() { }

    public void Dispose()
    {
        Port.FrameArrived = null;
        _loop.RemoveAndWait(this);
    }
}

using System.Diagnostics;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Vring;

namespace AmpCan.Rpmsg;

/// <summary>
/// The loop's view of one rpmsg device: receive work first (it carries the peer's messages), then transmit
/// housekeeping; one handler per device keeps a busy loop's pass short. The receive queue has one owner at a time,
/// taken by a compare-and-swap: normally the loop, or a thread waiting for a reply that polls the ring itself (so the
/// reply costs no hand-off between threads); the loop then neither spins for it nor arms its notifications.
/// </summary>
internal sealed class RpmsgDeviceHandler(RpmsgBus bus, Func<bool> processRx, IVirtqueueNotifications rx, Func<bool> processTx,
    IVirtqueueNotifications tx, SpinAllowance allowance) : INotificationHandler
{
    private int _rxOwner;          // managed thread id of the receive queue's owner, 0 when free
    private int _pollers;
    private bool _txArmed;         // under the bus's TxLock

    /// <summary>True on the thread that owns the receive queue right now.</summary>
    public bool IsReceiveOwner => Volatile.Read(ref _rxOwner) == Environment.CurrentManagedThreadId;

    public bool IsPolledElsewhere => Volatile.Read(ref _pollers) != 0;

    private bool TryOwnRx() => Interlocked.CompareExchange(ref _rxOwner, Environment.CurrentManagedThreadId, 0) == 0;

    private void ReleaseRx() => Volatile.Write(ref _rxOwner, 0);

    public bool Process()
    {
        if (bus.State == RpmsgDeviceState.Failed) return false;
        try
        {
            bool did = false;
            if (TryOwnRx())
            {
                try { did = processRx(); }
                finally { ReleaseRx(); }
            }
            did |= processTx();
            if (Volatile.Read(ref _txArmed) && bus.TxWaitersForHandler == 0) DisarmTxIfUnused();
            return did;
        }
        catch (Exception e)
        {
            // Whatever the cause, fail this device (senders learn at once, the peer sees the status) rather than let
            // the loop drop the handler and leave a device that looks ready and never moves again.
            bus.Fail(e);
            return false;
        }
    }

    public bool ArmNotifications()
    {
        if (bus.State == RpmsgDeviceState.Failed) return false;
        try
        {
            bool pending = false;
            // A poller owns the receive queue: it arms the notifications itself when it leaves.
            if (TryOwnRx())
            {
                try { pending = rx.EnableNotifications(); }
                finally { ReleaseRx(); }
            }
            // Transmit notifications only matter to senders waiting for a buffer (rpmsg_upref_sleepers).
            if (bus.TxWaitersForHandler != 0)
                lock (bus.TxLock) pending |= ArmTxLocked();
            return pending;
        }
        catch (Exception e)
        {
            bus.Fail(e);
            return false;
        }
    }

    public void DisarmNotifications()
    {
        if (bus.State == RpmsgDeviceState.Failed) return;
        try
        {
            if (TryOwnRx())
            {
                try { rx.DisableNotifications(); }
                finally { ReleaseRx(); }
            }
            lock (bus.TxLock)
            {
                tx.DisableNotifications();
                _txArmed = false;
            }
        }
        catch (Exception e)
        {
            bus.Fail(e);
        }
    }

    /// <summary>Asks the peer to interrupt us when it returns transmit buffers (under the bus's TxLock); true if some are returned already.</summary>
    public bool ArmTxLocked()
    {
        _txArmed = true;
        return tx.EnableNotifications();
    }

    /// <summary>The last waiting sender left: the peer need not interrupt us for returned buffers any more (rpmsg_downref_sleepers).</summary>
    public void DisarmTxIfUnused()
    {
        lock (bus.TxLock)
        {
            if (!_txArmed || bus.TxWaitersForHandler != 0) return;
            tx.DisableNotifications();
            _txArmed = false;
        }
    }

    /// <summary>
    /// A thread waiting for a message on <paramref name="queue"/> processes the receive ring itself until the message
    /// is there or <paramref name="budget"/> has passed; true when it is there. Idle loops of the same spin allowance
    /// park meanwhile, and the ring's notifications stay off until it leaves.
    /// </summary>
    public bool PollUntil(RpmsgEndpointQueue queue, TimeSpan budget)
    {
        long end = Stopwatch.GetTimestamp() + (long)(budget.TotalSeconds * Stopwatch.Frequency);
        Interlocked.Increment(ref _pollers);
        allowance.EnterPoller();
        bool disarmed = false; // notifications are off from this poller's first pass until the last poller leaves
        try
        {
            int spins = 0;
            while (!queue.HasMessages && bus.State != RpmsgDeviceState.Failed)
            {
                if (TryOwnRx())
                {
                    try
                    {
                        if (!disarmed)
                        {
                            rx.DisableNotifications();
                            disarmed = true;
                        }
                        processRx();
                    }
                    finally { ReleaseRx(); }
                    if (queue.HasMessages) break;
                }
                if ((++spins & 63) == 0 && Stopwatch.GetTimestamp() >= end) break;
                NotificationLoop.CpuRelax();
            }
        }
        catch (Exception e)
        {
            bus.Fail(e);
        }
        finally
        {
            allowance.ExitPoller();
            // Whichever poller disarmed, the last one out re-arms: the loop may have parked without arming meanwhile.
            if (Interlocked.Decrement(ref _pollers) == 0) Rearm();
        }
        return queue.HasMessages;
    }

    // The last poller leaves: the loop may be parked without receive notifications (it skipped them while the queue
    // was polled), so arm them here, and take whatever arrived meanwhile, or the loop would sleep through it. Armed,
    // the next message wakes the loop; waking it now would only cost this thread a system call and the loop a pass.
    private void Rearm()
    {
        var spin = new SpinWait();
        while (bus.State != RpmsgDeviceState.Failed)
        {
            if (TryOwnRx())
            {
                try
                {
                    while (rx.EnableNotifications() && processRx()) { }
                }
                catch (Exception e)
                {
                    bus.Fail(e);
                }
                finally { ReleaseRx(); }
                return;
            }
            spin.SpinOnce(sleep1Threshold: -1); // the loop holds the queue for one pass
        }
    }

    public override string ToString() => bus.Name;
}

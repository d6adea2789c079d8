using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace AmpCan.Vring;

/// <summary>Remembers a queue's first protocol violation, so that the queue stays broken until its owner resets it.</summary>
internal sealed class QueueFault
{
    /// <summary>The first violation, or null.</summary>
    public VirtqueueException? First { get; private set; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void ThrowIfBroken()
    {
        if (First is not null) ThrowBroken();
    }

    private void ThrowBroken() => throw new VirtqueueException(First!.Error, $"queue stopped after an earlier violation: {First.Message}");

    [DoesNotReturn]
    public void Break(VirtqueueError error, string message)
    {
        First = new VirtqueueException(error, message);
        throw First;
    }
}

/// <summary>
/// Asking the peer for notifications, whichever the role: a driver's used-buffer callbacks or a device's
/// available-buffer kicks. Lets one event-loop handler serve both roles.
/// </summary>
public interface IVirtqueueNotifications
{
    /// <summary>Asks the peer to notify us; returns true if work is already pending (process it rather than wait).</summary>
    bool EnableNotifications();

    /// <summary>Tells the peer no notification is needed (we are polling).</summary>
    void DisableNotifications();
}

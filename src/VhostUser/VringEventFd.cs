using AmpCan.SharedMem.Doorbells;
using Microsoft.Win32.SafeHandles;

namespace AmpCan.VhostUser;

/// <summary>
/// A vhost-user call (or error) eventfd that the front end may replace at any time, also while the device's loop
/// signals it: QEMU sends a new SET_VRING_CALL after enabling each ring. Ringing writes whichever eventfd is current.
/// </summary>
/// <remarks>
/// The replaced eventfd is disposed at once; a write racing with that either completes on it (the handle's reference
/// count keeps the descriptor open for the call) or sees it disposed and writes the new one. No lock on the ring path.
/// </remarks>
internal sealed class VringEventFd(string description) : Doorbell
{
    private static readonly byte[] One = [1, 0, 0, 0, 0, 0, 0, 0];
    private SafeFileHandle? _current;

    /// <summary>True while an eventfd is set.</summary>
    public bool IsSet => Volatile.Read(ref _current) is not null;

    /// <summary>Makes <paramref name="eventFd"/> (owned from now on; null for none) the one rung, and closes the previous one.</summary>
    public void Replace(SafeFileHandle? eventFd) => Interlocked.Exchange(ref _current, eventFd)?.Dispose();

    /// <inheritdoc/>
    public override void Ring(uint notifyId = 0)
    {
        // Two tries: the first may meet an eventfd replaced and closed under it, the second then meets its successor.
        for (int attempt = 0; attempt < 2; attempt++)
        {
            SafeFileHandle? fd = Volatile.Read(ref _current);
            if (fd is null) return; // the front end asked for no notifications of this kind
            try
            {
                RandomAccess.Write(fd, One, 0);
                return;
            }
            catch (ObjectDisposedException)
            {
            }
            catch (IOException)
            {
                return; // EAGAIN: the counter is saturated, so the front end is certain to wake anyway
            }
        }
    }

    /// <inheritdoc/>
    public override string Description => description;

    /// <inheritdoc/>
    protected override void Dispose(bool disposing) => Replace(null);
}

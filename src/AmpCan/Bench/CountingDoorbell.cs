using AmpCan.SharedMem.Doorbells;

namespace AmpCan.Host.Bench;

/// <summary>
/// A doorbell that counts its rings and passes everything on to the one it wraps: how many notifications (each a
/// system call on the ringing side, and a wake-up on the other when it was parked) a benchmark case cost per frame.
/// </summary>
internal sealed class CountingDoorbell(Doorbell inner) : Doorbell
{
    private long _rings;

    /// <summary>Rings so far.</summary>
    public long Rings => Interlocked.Read(ref _rings);

    /// <inheritdoc/>
    public override void Ring(uint notifyId = 0)
    {
        Interlocked.Increment(ref _rings);
        inner.Ring(notifyId);
    }

    /// <inheritdoc/>
    public override int WaitFd => inner.WaitFd;

    /// <inheritdoc/>
    public override bool Acknowledge() => inner.Acknowledge();

    /// <inheritdoc/>
    public override bool EdgeTriggered => inner.EdgeTriggered;

    /// <inheritdoc/>
    public override string Description => $"counting {inner.Description}";

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
    }
}

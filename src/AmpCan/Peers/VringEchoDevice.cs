using AmpCan.SharedMem.Doorbells;
using AmpCan.Vring;

namespace AmpCan.Host.Peers;

/// <summary>
/// The device side of an echo service on one virtqueue: every chain's readable bytes are copied into its writable
/// buffers and the chain is returned with the number of bytes written. Drives the vring benchmarks and the
/// cross-process peer.
/// </summary>
public sealed class VringEchoDevice(SplitVirtqueueDevice queue, Doorbell toDriver, int batch = 64) : INotificationHandler
{
    private long _chains;

    /// <summary>Chains echoed so far.</summary>
    public long Chains => Interlocked.Read(ref _chains);

    /// <inheritdoc/>
    public bool Process()
    {
        int n = 0;
        while (n < batch && queue.TryPop(out DescriptorChain chain))
        {
            queue.AddUsed(chain.Head, Echo(chain));
            n++;
        }
        if (n == 0) return false;
        Interlocked.Add(ref _chains, n);
        if (queue.PublishUsed()) toDriver.Ring();
        return true;
    }

    /// <summary>Copies the readable bytes of <paramref name="chain"/> into its writable buffers; returns the bytes written.</summary>
    public static uint Echo(in DescriptorChain chain)
    {
        ReadOnlySpan<BufferSegment> src = chain.Readable, dst = chain.Writable;
        int si = 0, di = 0;
        uint so = 0, dOff = 0, written = 0;
        while (si < src.Length && di < dst.Length)
        {
            uint n = Math.Min(src[si].Length - so, dst[di].Length - dOff);
            if (n > 0)
            {
                src[si].Slice(so, (int)n).CopyTo(dst[di].Slice(dOff, (int)n));
                so += n;
                dOff += n;
                written += n;
            }
            if (so == src[si].Length) { si++; so = 0; }
            if (dOff == dst[di].Length) { di++; dOff = 0; }
        }
        return written;
    }

    /// <inheritdoc/>
    public bool ArmNotifications() => queue.EnableNotifications();

    /// <inheritdoc/>
    public void DisarmNotifications() => queue.DisableNotifications();
}

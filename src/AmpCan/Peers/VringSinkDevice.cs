using AmpCan.SharedMem.Doorbells;
using AmpCan.Vring;

namespace AmpCan.Host.Peers;

/// <summary>
/// The device side of a one-way stream: copies every chain's readable bytes out of shared memory, as a consumer does,
/// checksums the copy, and returns the chain empty. The <see cref="Digest"/> of all chains lets the driver check that
/// the device received exactly what it sent.
/// </summary>
public sealed class VringSinkDevice(SplitVirtqueueDevice queue, Doorbell toDriver, int batch = 256) : INotificationHandler
{
    // Copies go through a fixed buffer in pieces, so a chain as large as the region costs no allocation; a 4 KiB piece
    // holds a whole rpmsg-sized payload and stays in the L1 cache.
    private readonly byte[] _copy = new byte[4096];
    private StreamDigest _digest;

    /// <summary>Chains consumed so far.</summary>
    public long Chains => Digest.Payloads;

    /// <summary>What the consumed chains added up to (read once the loop is quiet: it is one unsynchronised record).</summary>
    public StreamDigest Digest => _digest;

    /// <inheritdoc/>
    public bool Process()
    {
        int n = 0;
        StreamDigest digest = _digest;
        while (n < batch && queue.TryPop(out DescriptorChain chain))
        {
            var checksum = new PayloadChecksum();
            foreach (BufferSegment segment in chain.Readable)
            {
                for (uint at = 0; at < segment.Length; )
                {
                    int piece = (int)Math.Min((uint)_copy.Length, segment.Length - at);
                    Span<byte> copy = _copy.AsSpan(0, piece);
                    segment.Slice(at, piece).CopyTo(copy);
                    checksum.Append(copy);
                    at += (uint)piece;
                }
            }
            digest = digest.Add(checksum.Value, (long)chain.ReadableBytes);
            queue.AddUsed(chain.Head, 0);
            n++;
        }
        if (n == 0) return false;
        _digest = digest;
        if (queue.PublishUsed()) toDriver.Ring();
        return true;
    }

    /// <inheritdoc/>
    public bool ArmNotifications() => queue.EnableNotifications();

    /// <inheritdoc/>
    public void DisarmNotifications() => queue.DisableNotifications();
}

namespace AmpCan.Vring;

/// <summary>Each way the other side of a virtqueue can break the protocol.</summary>
public enum VirtqueueError
{
    /// <summary>The available index ran ahead of the last one seen by more than the queue size.</summary>
    AvailIndexOutOfRange,
    /// <summary>A head or <c>next</c> index is not below the queue (or indirect table) size.</summary>
    DescriptorIndexOutOfRange,
    /// <summary>A head was made available again while its chain was still being processed.</summary>
    HeadAlreadyInFlight,
    /// <summary>A chain has more descriptors than the queue size (or its indirect table): a loop or an oversize chain.</summary>
    DescriptorChainTooLong,
    /// <summary>An indirect descriptor arrived although VIRTIO_RING_F_INDIRECT_DESC was not negotiated.</summary>
    IndirectNotNegotiated,
    /// <summary>A descriptor has both INDIRECT and NEXT set.</summary>
    IndirectWithNext,
    /// <summary>An indirect table's length is zero, not a multiple of 16, or longer than the queue.</summary>
    InvalidIndirectTable,
    /// <summary>An indirect table contains another indirect descriptor.</summary>
    NestedIndirectTable,
    /// <summary>A buffer's address plus length wraps, or a chain totals 2^32 bytes or more.</summary>
    LengthOverflow,
    /// <summary>A device-readable descriptor follows a device-writable one.</summary>
    ReadableAfterWritable,
    /// <summary>A buffer or indirect table is not wholly inside one mapped window.</summary>
    AddressOutOfMap,
    /// <summary>The used index ran ahead by more than the buffers outstanding.</summary>
    UsedIndexOutOfRange,
    /// <summary>A used element's id is not below the queue size.</summary>
    UsedIdOutOfRange,
    /// <summary>A used element's id names a chain that was never made available (or was already returned).</summary>
    UsedIdNotAvailable,
}

/// <summary>
/// The peer broke the virtqueue protocol. Nothing outside the memory map was read or written; the queue refuses
/// further work and its owner sets DEVICE_NEEDS_RESET (or resets the vdev).
/// </summary>
public sealed class VirtqueueException : Exception
{
    /// <summary>Creates the exception.</summary>
    public VirtqueueException(VirtqueueError error, string message) : base(message) => Error = error;

    /// <summary>What the peer did wrong.</summary>
    public VirtqueueError Error { get; }
}

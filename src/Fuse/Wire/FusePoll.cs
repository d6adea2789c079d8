using System.Buffers.Binary;

namespace AmpCan.Fuse.Wire;

/// <summary><c>struct fuse_poll_in</c> (24 bytes): u64 fh @0, u64 kh @8, u32 flags @16, u32 events @20.</summary>
/// <param name="FileHandle">The open file's handle.</param>
/// <param name="KernelHandle">The poll handle to name in a later FUSE_NOTIFY_POLL.</param>
/// <param name="Flags">FUSE_POLL_* flags.</param>
/// <param name="Events">The poll events asked for (POLLIN...).</param>
public readonly record struct FusePollIn(ulong FileHandle, ulong KernelHandle, uint Flags, uint Events)
{
    /// <summary>Bytes in the request body.</summary>
    public const int Size = 24;

    /// <summary>Reads the 24 wire bytes.</summary>
    public static FusePollIn Read(ReadOnlySpan<byte> b) => new(
        BinaryPrimitives.ReadUInt64LittleEndian(b),
        BinaryPrimitives.ReadUInt64LittleEndian(b[8..]),
        BinaryPrimitives.ReadUInt32LittleEndian(b[16..]),
        BinaryPrimitives.ReadUInt32LittleEndian(b[20..Size]));
}

/// <summary><c>struct fuse_poll_out</c> (8 bytes): u32 revents @0, u32 padding @4.</summary>
/// <param name="ReadyEvents">The events ready now.</param>
public readonly record struct FusePollOut(uint ReadyEvents)
{
    /// <summary>Bytes in the reply body.</summary>
    public const int Size = 8;

    /// <summary>Writes the 8 wire bytes.</summary>
    public void Write(Span<byte> b)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(b, ReadyEvents);
        BinaryPrimitives.WriteUInt32LittleEndian(b[4..Size], 0);
    }
}

/// <summary><c>struct fuse_notify_poll_wakeup_out</c> (8 bytes): u64 kh @0, after a header with error FUSE_NOTIFY_POLL, unique 0.</summary>
/// <param name="KernelHandle">The poll handle from <see cref="FusePollIn.KernelHandle"/>.</param>
public readonly record struct FuseNotifyPollWakeupOut(ulong KernelHandle)
{
    /// <summary>Bytes in the notification body.</summary>
    public const int Size = 8;

    /// <summary>Writes the 8 wire bytes.</summary>
    public void Write(Span<byte> b) => BinaryPrimitives.WriteUInt64LittleEndian(b[..Size], KernelHandle);
}

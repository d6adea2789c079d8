using System.Buffers.Binary;
using static AmpCan.VirtioCan.SocketCan.SocketCanConstants;

namespace AmpCan.VirtioCan.SocketCan;

/// <summary>
/// <c>struct can_frame</c> (16 bytes: le32 can_id with the EFF/RTR/ERR flags, u8 len, u8 __pad, u8 __res0, u8 len8_dlc,
/// u8 data[8] at offset 8) and <c>struct canfd_frame</c> (72 bytes: le32 can_id, u8 len, u8 flags, u8 __res0, u8 __res1,
/// u8 data[64] at offset 8), as a raw CAN socket reads and writes them, to and from <see cref="CanFrame"/>.
/// </summary>
/// <remarks>Host byte order is little-endian on every target AmpCan builds for; can_id is native-endian in the kernel's ABI.</remarks>
public static class SocketCanFrameCodec
{
    /// <summary>Reads what one read(2) of a raw CAN socket returned; false when its size is neither MTU or its length is impossible.</summary>
    public static bool TryRead(ReadOnlySpan<byte> raw, out CanFrame frame)
    {
        frame = default;
        if (raw.Length is not (ClassicMtu or FdMtu)) return false;
        uint canId = BinaryPrimitives.ReadUInt32LittleEndian(raw);
        byte length = raw[4];
        bool fd = raw.Length == FdMtu;
        if (length > (fd ? CanFrame.MaxLength : 8)) return false;
        CanFrameKind kind = CanFrameKind.None;
        if ((canId & ExtendedFlag) != 0) kind |= CanFrameKind.Extended;
        if ((canId & ErrorFlag) != 0) kind |= CanFrameKind.Error;
        if (fd)
        {
            kind |= CanFrameKind.Fd;
            if ((raw[5] & FdBitRateSwitch) != 0) kind |= CanFrameKind.BitRateSwitch;
            if ((raw[5] & FdErrorStateIndicator) != 0) kind |= CanFrameKind.ErrorStateIndicator;
        }
        else if ((canId & RemoteFlag) != 0) kind |= CanFrameKind.Remote;
        frame.Id = canId & ((kind & (CanFrameKind.Extended | CanFrameKind.Error)) != 0 ? ExtendedIdMask : StandardIdMask);
        frame.Kind = kind;
        frame.Length = length;
        if (!frame.IsRemote) raw.Slice(8, length).CopyTo(frame.Payload);
        return true;
    }

    /// <summary>Writes <paramref name="frame"/> as a raw CAN socket takes it; returns the bytes to write (16 or 72).</summary>
    /// <exception cref="ArgumentException">The destination is too small, or the frame cannot be one (a remote FD frame, a length past its kind's).</exception>
    public static int Write(in CanFrame frame, Span<byte> destination)
    {
        bool fd = frame.IsFd;
        int size = fd ? FdMtu : ClassicMtu;
        if (destination.Length < size) throw new ArgumentException($"a {(fd ? "canfd_frame" : "can_frame")} takes {size} bytes, not {destination.Length}", nameof(destination));
        if (fd && frame.IsRemote) throw new ArgumentException("CAN FD has no remote frames", nameof(frame));
        if (frame.Length > (fd ? CanFrame.MaxLength : 8)) throw new ArgumentException($"a {(fd ? "CAN FD" : "classic")} frame of {frame.Length} bytes", nameof(frame));
        Span<byte> d = destination[..size];
        d.Clear();
        uint canId = frame.Id & (frame.IsExtended || frame.IsError ? ExtendedIdMask : StandardIdMask);
        if (frame.IsExtended) canId |= ExtendedFlag;
        if (frame.IsRemote) canId |= RemoteFlag;
        if (frame.IsError) canId |= ErrorFlag;
        BinaryPrimitives.WriteUInt32LittleEndian(d, canId);
        d[4] = frame.Length;
        if (fd)
        {
            byte flags = FdFrameFormat;
            if ((frame.Kind & CanFrameKind.BitRateSwitch) != 0) flags |= FdBitRateSwitch;
            if ((frame.Kind & CanFrameKind.ErrorStateIndicator) != 0) flags |= FdErrorStateIndicator;
            d[5] = flags;
        }
        if (!frame.IsRemote) ((ReadOnlySpan<byte>)frame.Data)[..frame.Length].CopyTo(d[8..]);
        return size;
    }
}

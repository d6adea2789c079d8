using static AmpCan.VirtioCan.SocketCan.SocketCanConstants;

namespace AmpCan.VirtioCan;

/// <summary>
/// One frame as a line of <c>candump -L</c>, the format <c>canplayer</c> replays: <c>(seconds.micros) iface frame</c>,
/// where a frame is a 3-digit standard or 8-digit extended identifier, <c>#</c>, then the data in hex; <c>R</c> and
/// the length for a remote request; <c>##</c>, the flags nibble (FDF 4, BRS 1, ESI 2) and the data for CAN FD; an error
/// frame's classes with CAN_ERR_FLAG as 8 digits. Written into a caller's buffer: nothing is allocated.
/// </summary>
public static class CandumpLine
{
    /// <summary>Longest line for an interface name of <paramref name="interfaceLength"/> characters (a 64-byte FD frame).</summary>
    public static int MaxLength(int interfaceLength) => 19 + 1 + interfaceLength + 1 + 8 + 3 + 2 * CanFrame.MaxLength;

    /// <summary>Writes the line (without a newline) and returns its length.</summary>
    /// <exception cref="ArgumentException">The destination is shorter than <see cref="MaxLength"/> would need for this frame.</exception>
    public static int Format(Span<char> destination, long unixMicroseconds, ReadOnlySpan<char> interfaceName, in CanFrame frame)
    {
        int need = MaxLength(interfaceName.Length);
        if (destination.Length < need) throw new ArgumentException($"a candump line may take {need} characters", nameof(destination));
        int n = 0;
        destination[n++] = '(';
        n += Decimal(destination[n..], (ulong)(unixMicroseconds / 1_000_000), 10);
        destination[n++] = '.';
        n += Decimal(destination[n..], (ulong)(unixMicroseconds % 1_000_000), 6);
        destination[n++] = ')';
        destination[n++] = ' ';
        interfaceName.CopyTo(destination[n..]);
        n += interfaceName.Length;
        destination[n++] = ' ';
        if (frame.IsError) n += Hex(destination[n..], (frame.Id & ExtendedIdMask) | ErrorFlag, 8);
        else if (frame.IsExtended) n += Hex(destination[n..], frame.Id & ExtendedIdMask, 8);
        else n += Hex(destination[n..], frame.Id & StandardIdMask, 3);
        destination[n++] = '#';
        if (frame.IsFd)
        {
            int flags = FdFrameFormat;
            if ((frame.Kind & CanFrameKind.BitRateSwitch) != 0) flags |= FdBitRateSwitch;
            if ((frame.Kind & CanFrameKind.ErrorStateIndicator) != 0) flags |= FdErrorStateIndicator;
            destination[n++] = '#';
            n += Hex(destination[n..], (uint)flags, 1);
        }
        else if (frame.IsRemote)
        {
            destination[n++] = 'R';
            if (frame.Length is > 0 and <= 8) n += Hex(destination[n..], frame.Length, 1);
            return n;
        }
        ReadOnlySpan<byte> data = ((ReadOnlySpan<byte>)frame.Data)[..Math.Min((int)frame.Length, CanFrame.MaxLength)];
        foreach (byte b in data) n += Hex(destination[n..], b, 2);
        return n;
    }

    private static int Hex(Span<char> d, uint value, int digits)
    {
        for (int i = digits - 1; i >= 0; i--, value >>= 4) d[i] = "0123456789ABCDEF"[(int)(value & 0xF)];
        return digits;
    }

    private static int Decimal(Span<char> d, ulong value, int digits)
    {
        for (int i = digits - 1; i >= 0; i--, value /= 10) d[i] = (char)('0' + (int)(value % 10));
        return digits;
    }
}

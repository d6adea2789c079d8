using static AmpCan.VirtioCan.SocketCan.SocketCanConstants;

namespace AmpCan.VirtioCan;

/// <summary>
/// One frame as a line of <c>candump -L</c>, the format <c>canplayer</c> replays: <c>(seconds.micros) iface frame</c>,
/// where a frame is a 3-digit standard or 8-digit extended identifier, <c>#</c>, then the data in hex; <c>R</c> and
/// the length for a remote request; <c>##</c>, the flags nibble (FDF 4, BRS 1, ESI 2) and the data for CAN FD; an error
/// frame's classes with CAN_ERR_FLAG as 8 digits. Written into a caller's buffer and read back from a span: nothing
/// is allocated.
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

    /// <summary>
    /// Reads a line as <see cref="Format"/> and <c>candump -L</c> write it: <c>(seconds.micros) iface frame</c>, six
    /// digits of microseconds; whatever follows the frame after a space (candump -x's <c>R</c>/<c>T</c>) is ignored, as
    /// canplayer ignores it. False for anything else, such as the lines not starting with '(' that canplayer skips.
    /// </summary>
    /// <remarks><paramref name="interfaceName"/> is a slice of <paramref name="line"/>: nothing is allocated.</remarks>
    public static bool TryParse(ReadOnlySpan<char> line, out long unixMicroseconds, out ReadOnlySpan<char> interfaceName, out CanFrame frame)
    {
        unixMicroseconds = 0;
        interfaceName = default;
        frame = default;
        line = line.TrimEnd();
        if (line.Length == 0 || line[0] != '(') return false;
        int close = line.IndexOf(')');
        if (close < 0 || !TryTimestamp(line[1..close], out unixMicroseconds)) return false;
        ReadOnlySpan<char> rest = line[(close + 1)..];
        return TakeField(ref rest, out interfaceName) && TakeField(ref rest, out ReadOnlySpan<char> text) && TryParseFrame(text, out frame);
    }

    /// <summary>
    /// Reads a frame as a candump line's third field and cansend's argument write it: <c>123#DEADBEEF</c>,
    /// <c>12345678#R</c>, <c>456#R3</c>, <c>321##1AABB</c>, an error frame's 8 digits with CAN_ERR_FLAG; '.' between
    /// bytes allowed, and after 8 classic bytes a raw DLC (<c>_9</c> to <c>_F</c>), which a <see cref="CanFrame"/> does
    /// not keep. False for what canplayer would refuse or the kernel could not send (an 11-bit identifier over 0x7FF,
    /// more bytes than the frame holds, odd hex digits, CAN XL).
    /// </summary>
    public static bool TryParseFrame(ReadOnlySpan<char> text, out CanFrame frame)
    {
        frame = default;
        int at;
        if (text.Length >= 4 && text[3] == '#')
        {
            if (!TryHex(text[..3], out uint id) || id > StandardIdMask) return false;
            frame.Id = id;
            at = 4;
        }
        else if (text.Length >= 9 && text[8] == '#')
        {
            if (!TryHex(text[..8], out uint id) || (id & (ExtendedFlag | RemoteFlag)) != 0) return false;
            frame.Id = id & ExtendedIdMask;
            frame.Kind = (id & ErrorFlag) != 0 ? CanFrameKind.Error : CanFrameKind.Extended;
            at = 9;
        }
        else return false;

        ReadOnlySpan<char> rest = text[at..];
        if (rest.Length > 0 && (rest[0] is 'R' or 'r'))
        {
            if (frame.IsError) return false;
            frame.Kind |= CanFrameKind.Remote;
            rest = rest[1..];
            if (rest.Length == 0) return true;
            if (rest[0] is < '0' or > '8') return false;
            frame.Length = (byte)(rest[0] - '0');
            return rest.Length == 1 || (frame.Length == 8 && IsRawDlc(rest[1..]));
        }
        int max = 8;
        if (rest.Length > 0 && rest[0] == '#')
        {
            if (frame.IsError || rest.Length < 2 || !TryHex(rest.Slice(1, 1), out uint flags) || (flags & ~(uint)(FdBitRateSwitch | FdErrorStateIndicator | FdFrameFormat)) != 0) return false;
            frame.Kind |= CanFrameKind.Fd
                | ((flags & FdBitRateSwitch) != 0 ? CanFrameKind.BitRateSwitch : 0)
                | ((flags & FdErrorStateIndicator) != 0 ? CanFrameKind.ErrorStateIndicator : 0);
            rest = rest[2..];
            max = CanFrame.MaxLength;
        }
        int n = 0;
        while (rest.Length > 0)
        {
            if (rest[0] == '.')
            {
                rest = rest[1..];
                continue;
            }
            if (n == 8 && max == 8 && IsRawDlc(rest)) break;
            if (n == max || rest.Length < 2 || !TryHex(rest[..2], out uint b)) return false;
            frame.Data[n++] = (byte)b;
            rest = rest[2..];
        }
        frame.Length = (byte)n;
        return true;
    }

    // "(seconds.micros)" without its parentheses: digits, a dot, six digits.
    private static bool TryTimestamp(ReadOnlySpan<char> text, out long unixMicroseconds)
    {
        unixMicroseconds = 0;
        int dot = text.IndexOf('.');
        if (dot < 1 || text.Length - dot - 1 != 6) return false;
        long seconds = 0;
        foreach (char c in text[..dot])
        {
            if (c is < '0' or > '9' || seconds > (long.MaxValue / 1_000_000 - 9) / 10) return false;
            seconds = seconds * 10 + (c - '0');
        }
        long micros = 0;
        foreach (char c in text[(dot + 1)..])
        {
            if (c is < '0' or > '9') return false;
            micros = micros * 10 + (c - '0');
        }
        unixMicroseconds = seconds * 1_000_000 + micros;
        return true;
    }

    // One field after at least one blank (what sscanf's " %s" takes).
    private static bool TakeField(scoped ref ReadOnlySpan<char> rest, out ReadOnlySpan<char> field)
    {
        field = default;
        ReadOnlySpan<char> trimmed = rest.TrimStart(" \t");
        if (trimmed.Length == rest.Length || trimmed.Length == 0) return false;
        int end = trimmed.IndexOfAny(' ', '\t');
        if (end < 0) end = trimmed.Length;
        field = trimmed[..end];
        rest = trimmed[end..];
        return true;
    }

    // "_9" to "_F": a classic 8-byte frame's raw DLC, which SocketCAN keeps in len8_dlc.
    private static bool IsRawDlc(ReadOnlySpan<char> text) => text.Length == 2 && text[0] == '_' && TryHex(text[1..], out uint dlc) && dlc > 8;

    private static bool TryHex(ReadOnlySpan<char> digits, out uint value)
    {
        value = 0;
        foreach (char c in digits)
        {
            int v = c switch
            {
                >= '0' and <= '9' => c - '0',
                >= 'A' and <= 'F' => c - 'A' + 10,
                >= 'a' and <= 'f' => c - 'a' + 10,
                _ => -1,
            };
            if (v < 0) return false;
            value = value << 4 | (uint)v;
        }
        return true;
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

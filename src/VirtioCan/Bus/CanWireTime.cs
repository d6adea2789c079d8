namespace AmpCan.VirtioCan.Bus;

/// <summary>
/// How long a frame holds a CAN wire: its bits at the nominal rate, plus a CAN FD frame's data phase at the data rate
/// when it switches bit rate (BRS). Counted without dynamic stuff bits, so a paced bus carries what a real wire at the
/// same rate carries at best (8 data bytes, 11-bit identifier, 1 Mbit/s: 111 bits, 9,009 frames/s); a real wire's
/// stuff bits add up to a fifth more, depending on the data.
/// </summary>
/// <remarks>
/// Bit counts from ISO 11898-1 frame formats (classic base and extended; FD with its stuff-count field, CRC-17 or
/// CRC-21 and fixed stuff bits); the bit rate switches at BRS and back at the CRC delimiter, counted here at the
/// nominal rate. An error frame is a controller's report (SocketCAN's CAN_ERR_FLAG), not a frame on the wire: it takes
/// no time.
/// </remarks>
public static class CanWireTime
{
    // SOF 1, identifier 11, RTR 1, IDE 1, r0 1, DLC 4; after the data: CRC 15, CRC delimiter 1, ACK 2, EOF 7, IFS 3.
    private const int ClassicBaseBits = 47;
    // SOF 1, identifier 11, SRR 1, IDE 1, identifier extension 18, RTR 1, r1 1, r0 1, DLC 4; then as above.
    private const int ClassicExtendedBits = 67;
    // After an FD frame's data phase, at the nominal rate: CRC delimiter 1, ACK 2, EOF 7, IFS 3.
    private const int FdTrailerBits = 13;
    // FD arbitration, base: SOF 1, identifier 11, RRS 1, IDE 1, FDF 1, res 1, BRS 1.
    private const int FdBaseArbitrationBits = 17;
    // FD arbitration, extended: SOF 1, identifier 11, SRR 1, IDE 1, identifier extension 18, RRS 1, FDF 1, res 1, BRS 1.
    private const int FdExtendedArbitrationBits = 36;
    // FD data phase around the data: ESI 1, DLC 4, stuff count 4, CRC 17 and 6 fixed stuff bits (up to 16 data bytes).
    private const int FdShortDataPhaseBits = 32;
    // The same with CRC 21 and 7 fixed stuff bits (more than 16 data bytes).
    private const int FdLongDataPhaseBits = 37;

    /// <summary>The frame's bits sent at the nominal (arbitration) rate.</summary>
    public static int NominalBits(in CanFrame frame)
    {
        if (frame.IsError) return 0;
        if (!frame.IsFd)
        {
            int data = frame.IsRemote ? 0 : 8 * Math.Min((int)frame.Length, 8);
            return (frame.IsExtended ? ClassicExtendedBits : ClassicBaseBits) + data;
        }
        int arbitration = (frame.IsExtended ? FdExtendedArbitrationBits : FdBaseArbitrationBits) + FdTrailerBits;
        return SwitchesBitRate(frame) ? arbitration : arbitration + FdDataPhaseBits(frame.Length);
    }

    /// <summary>The frame's bits sent at the data rate: a CAN FD frame's data phase when it switches bit rate, else none.</summary>
    public static int DataBits(in CanFrame frame) => !frame.IsError && SwitchesBitRate(frame) ? FdDataPhaseBits(frame.Length) : 0;

    /// <summary>
    /// Nanoseconds the frame holds a wire at <paramref name="bitrate"/> bit/s, its data phase (if it switches) at
    /// <paramref name="dataBitrate"/> (0: the nominal rate); rounded up, so that N frames never take less than N times it.
    /// </summary>
    public static long Nanoseconds(in CanFrame frame, int bitrate, int dataBitrate = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bitrate);
        ArgumentOutOfRangeException.ThrowIfNegative(dataBitrate);
        if (dataBitrate == 0) dataBitrate = bitrate;
        return CeilingNanoseconds(NominalBits(frame), bitrate) + CeilingNanoseconds(DataBits(frame), dataBitrate);
    }

    private static bool SwitchesBitRate(in CanFrame frame) => (frame.Kind & (CanFrameKind.Fd | CanFrameKind.BitRateSwitch)) == (CanFrameKind.Fd | CanFrameKind.BitRateSwitch);

    private static int FdDataPhaseBits(int length)
    {
        int onWire = FdLengthOnWire(length);
        return (onWire <= 16 ? FdShortDataPhaseBits : FdLongDataPhaseBits) + 8 * onWire;
    }

    // A length between FD's valid ones goes out padded to the next (its DLC's length).
    private static int FdLengthOnWire(int length) => length switch
    {
        <= 8 => Math.Max(length, 0),
        <= 24 => (length + 3) / 4 * 4,
        <= 32 => 32,
        <= 48 => 48,
        _ => 64,
    };

    private static long CeilingNanoseconds(int bits, int bitrate) => (bits * 1_000_000_000L + bitrate - 1) / bitrate;
}

using AmpCan.VirtioCan;

namespace AmpCan.Host.Bench;

/// <summary>
/// The frames a CAN benchmark sends: classic 8-byte or CAN FD 64-byte data frames, 11-bit identifiers that follow the
/// sequence number, the payload one of <see cref="SequencedPayloads"/>' rotating templates with the sequence number in
/// its first 8 bytes (a classic frame's whole payload). A receiver knows from the number exactly what the frame must be.
/// </summary>
internal sealed class CanBenchFrames
{
    /// <summary>What an echo member sets in the identifier of its reply, so a reply is never mistaken for the request.</summary>
    public const uint ReplyBit = 0x400;

    private readonly SequencedPayloads _payloads;
    private readonly CanFrameKind _kind;

    /// <summary>Classic 8-byte frames, or CAN FD 64-byte frames when <paramref name="fd"/>.</summary>
    public CanBenchFrames(bool fd)
    {
        Fd = fd;
        Length = fd ? 64 : 8;
        _kind = fd ? CanFrameKind.Fd : CanFrameKind.None;
        _payloads = new SequencedPayloads(Length);
    }

    /// <summary>True for CAN FD frames.</summary>
    public bool Fd { get; }

    /// <summary>Data bytes per frame.</summary>
    public int Length { get; }

    /// <summary>The key part naming the frames: classic8 or fd64.</summary>
    public string Name => Fd ? "fd64" : "classic8";

    /// <summary>Bytes of the virtio-can message that carries one frame (16-byte header and the data).</summary>
    public int MessageBytes => 16 + Length;

    /// <summary>The identifier of frame number <paramref name="seq"/> (below <see cref="ReplyBit"/>).</summary>
    public static uint IdOf(ulong seq) => (uint)(seq % ReplyBit);

    /// <summary>Makes <paramref name="frame"/> frame number <paramref name="seq"/>.</summary>
    public void Fill(ref CanFrame frame, ulong seq)
    {
        frame.Id = IdOf(seq);
        frame.Kind = _kind;
        frame.Length = (byte)Length;
        _payloads.Fill(frame.Payload, seq);
    }

    /// <summary>True when <paramref name="frame"/> is exactly frame number <paramref name="seq"/>, its identifier ORed with <paramref name="idBits"/>.</summary>
    public bool Matches(in CanFrame frame, ulong seq, uint idBits = 0) =>
        frame.Id == (IdOf(seq) | idBits) && frame.Kind == _kind && frame.Length == Length
        && _payloads.Matches(((ReadOnlySpan<byte>)frame.Data)[..Length], seq);

    /// <summary>The sequence number a frame carries (0 if it is too short to carry one).</summary>
    public static ulong SequenceOf(in CanFrame frame) =>
        frame.Length >= sizeof(ulong) && !frame.IsRemote ? SequencedPayloads.SequenceOf(((ReadOnlySpan<byte>)frame.Data)[..sizeof(ulong)]) : 0;
}

using System.Runtime.InteropServices;
using AmpCan.Host.Peers;

namespace AmpCan.Host.Bench;

/// <summary>
/// The payloads a benchmark sends: one of a few random templates, chosen by sequence number, with the sequence number
/// in the first 8 bytes. Consecutive payloads differ in every word, so a receiver that read stale memory, or only part
/// of a payload, is caught; and the sender knows each payload's <see cref="PayloadChecksum"/> without reading it back.
/// </summary>
internal sealed class SequencedPayloads
{
    /// <summary>Templates in rotation (prime, so it never lines up with a power-of-two ring or slot count).</summary>
    public const int Templates = 5;

    private readonly byte[][] _templates = new byte[Templates][];
    private readonly ulong[] _templateChecksums = new ulong[Templates];
    private readonly ulong _sequenceWeight;

    /// <summary>Creates templates of <paramref name="length"/> bytes (at least 8, for the sequence number).</summary>
    public SequencedPayloads(int length, int seed = 1)
    {
        var random = new Random(seed);
        Length = length;
        _sequenceWeight = PayloadChecksum.FirstWordWeight(length);
        for (int k = 0; k < Templates; k++)
        {
            byte[] t = new byte[length];
            random.NextBytes(t);
            MemoryMarshal.Write(t, 0UL);
            _templateChecksums[k] = PayloadChecksum.Of(t);
            _templates[k] = t;
        }
    }

    /// <summary>Bytes per payload.</summary>
    public int Length { get; }

    /// <summary>The sequence number in <paramref name="payload"/>.</summary>
    public static ulong SequenceOf(ReadOnlySpan<byte> payload) => MemoryMarshal.Read<ulong>(payload);

    /// <summary>Writes payload number <paramref name="seq"/> into <paramref name="destination"/>.</summary>
    public void Fill(Span<byte> destination, ulong seq)
    {
        _templates[seq % Templates].CopyTo(destination);
        MemoryMarshal.Write(destination, seq);
    }

    /// <summary>Payload number <paramref name="seq"/>, built in place in its template (valid until the template's next use).</summary>
    public ReadOnlySpan<byte> Stamp(ulong seq)
    {
        byte[] t = _templates[seq % Templates];
        MemoryMarshal.Write(t, seq);
        return t;
    }

    /// <summary>The <see cref="PayloadChecksum"/> of payload number <paramref name="seq"/>.</summary>
    public ulong Checksum(ulong seq) => _templateChecksums[seq % Templates] + seq * _sequenceWeight;

    /// <summary>True when <paramref name="payload"/> is exactly payload number <paramref name="seq"/>.</summary>
    public bool Matches(ReadOnlySpan<byte> payload, ulong seq) =>
        payload.Length == Length && SequenceOf(payload) == seq && payload[sizeof(ulong)..].SequenceEqual(_templates[seq % Templates].AsSpan(sizeof(ulong)));
}

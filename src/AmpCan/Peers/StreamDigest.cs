namespace AmpCan.Host.Peers;

/// <summary>
/// What a stream of payloads added up to: how many, how many bytes, and their <see cref="PayloadChecksum"/>s combined
/// in order. A sender and a receiver that each keep one agree only if every payload arrived whole, once, in order.
/// </summary>
public readonly record struct StreamDigest(long Payloads, long Bytes, ulong Value)
{
    // Odd, so the combination step is invertible and no earlier payload's contribution can cancel out.
    private const ulong Multiplier = 0xD605_BBB5_8C8A_BBB1;

    /// <summary>The digest with one more payload of <paramref name="length"/> bytes and checksum <paramref name="checksum"/>.</summary>
    public StreamDigest Add(ulong checksum, long length) => new(Payloads + 1, Bytes + length, Value * Multiplier + checksum);

    /// <inheritdoc/>
    public override string ToString() => $"{Payloads} payloads, {Bytes} bytes, checksum 0x{Value:x16}";
}

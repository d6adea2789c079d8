using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace AmpCan.Host.Peers;

/// <summary>
/// A checksum of a payload that every byte and its position change: Fletcher-style running sums over 32-byte blocks,
/// cheap enough to run on every buffer of a throughput benchmark. It is linear in the payload's 64-bit words (plus a
/// term for the length), so a sender that patches a sequence number into a fixed template knows the checksum of what
/// it sent without reading the payload again (see <see cref="Of"/> and <see cref="FirstWordWeight"/>).
/// </summary>
/// <remarks>Words are read in the machine's byte order: both sides of a check run on one machine.</remarks>
public struct PayloadChecksum
{
    private const int BlockBytes = 32, WordsPerBlock = BlockBytes / sizeof(ulong);
    private const ulong LengthWeight = 0x9E37_79B9_7F4A_7C15;
    private Vector256<ulong> _sum, _weighted;
    private Block _pending;
    private int _pendingLength;
    private long _length;

    [InlineArray(BlockBytes)]
    private struct Block
    {
        private byte _first;
    }

    /// <summary>The checksum of <paramref name="payload"/>.</summary>
    public static ulong Of(ReadOnlySpan<byte> payload)
    {
        var c = new PayloadChecksum();
        c.Append(payload);
        return c.Value;
    }

    /// <summary>
    /// How much the checksum of a <paramref name="length"/>-byte payload grows when its first 64-bit word grows by one:
    /// the checksum of a template whose first word is zero, plus <c>seq</c> times this, is the checksum of the template
    /// with <c>seq</c> in its first word.
    /// </summary>
    public static ulong FirstWordWeight(int length)
    {
        if (length < sizeof(ulong)) throw new ArgumentOutOfRangeException(nameof(length), $"a {length}-byte payload has no whole first word");
        byte[] payload = new byte[length];
        ulong zero = Of(payload);
        MemoryMarshal.Write(payload, 1UL);
        return Of(payload) - zero;
    }

    /// <summary>Adds the next bytes of the payload (the checksum is the same however the payload is split).</summary>
    public void Append(ReadOnlySpan<byte> data)
    {
        _length += data.Length;
        if (_pendingLength > 0)
        {
            int take = Math.Min(BlockBytes - _pendingLength, data.Length);
            data[..take].CopyTo(((Span<byte>)_pending)[_pendingLength..]);
            _pendingLength += take;
            data = data[take..];
            if (_pendingLength < BlockBytes) return;
            AddBlocks(_pending);
            _pendingLength = 0;
        }
        int whole = data.Length & ~(BlockBytes - 1);
        AddBlocks(data[..whole]);
        data[whole..].CopyTo(_pending);
        _pendingLength = data.Length - whole;
    }

    private void AddBlocks(ReadOnlySpan<byte> blocks)
    {
        Vector256<ulong> sum = _sum, weighted = _weighted;
        ReadOnlySpan<ulong> words = MemoryMarshal.Cast<byte, ulong>(blocks);
        for (int i = 0; i < words.Length; i += WordsPerBlock)
        {
            sum += Vector256.Create(words.Slice(i, WordsPerBlock));
            weighted += sum;
        }
        _sum = sum;
        _weighted = weighted;
    }

    /// <summary>
    /// The checksum of everything appended so far. Each word counts with an odd weight (so a change of any single word,
    /// any of its bits included, changes the result) that differs by block and by position within the block.
    /// </summary>
    public readonly ulong Value
    {
        get
        {
            Vector256<ulong> sum = _sum, weighted = _weighted;
            if (_pendingLength > 0)
            {
                Block last = default;
                ((ReadOnlySpan<byte>)_pending)[.._pendingLength].CopyTo(last);
                sum += Vector256.Create(MemoryMarshal.Cast<byte, ulong>((ReadOnlySpan<byte>)last));
                weighted += sum;
            }
            ulong value = (ulong)_length * LengthWeight;
            for (int lane = 0; lane < Vector256<ulong>.Count; lane++)
                value += 2 * weighted.GetElement(lane) + sum.GetElement(lane) * (((ulong)(lane + 1) << 33) | 1);
            return value;
        }
    }
}

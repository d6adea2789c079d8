using AmpCan.Host.Peers;
using AmpCan.SharedMem;
using AmpCan.Vring;

namespace AmpCan.Tests.Host;

/// <summary>A chain of readable segments of random bytes laid end to end in shared memory, as a sink device's tests send it.</summary>
internal static class RandomSinkChain
{
    /// <summary>
    /// Fills <paramref name="lengths"/> segments from offset <paramref name="at"/> of <paramref name="io"/>, adds them to
    /// <paramref name="driver"/> as one readable chain, and returns <paramref name="sent"/> with that chain added.
    /// </summary>
    public static StreamDigest Add(SplitVirtqueueDriver driver, IoRegion io, ulong at, int[] lengths, int token, Random random, StreamDigest sent)
    {
        var segments = new VirtqBuffer[lengths.Length];
        var checksum = new PayloadChecksum();
        long bytes = 0;
        for (int i = 0; i < lengths.Length; i++)
        {
            Span<byte> payload = io.GetSpan(at, lengths[i]);
            random.NextBytes(payload);
            checksum.Append(payload);
            segments[i] = new VirtqBuffer(io.DeviceAddress + at, (uint)lengths[i]);
            at += (ulong)lengths[i];
            bytes += lengths[i];
        }
        Assert.That(driver.TryAdd(segments, [], token), Is.True, "the ring had room for the chain");
        return sent.Add(checksum.Value, bytes);
    }
}

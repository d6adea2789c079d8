using AmpCan.Host.Peers;

namespace AmpCan.Host.Bench;

/// <summary>
/// Remote side of the pipelined rpmsg benchmark, called from the remote's receive callback: copies each payload out,
/// as a consumer does, checks its sequence number, and keeps the <see cref="Digest"/> of what arrived.
/// </summary>
internal sealed class RpmsgStreamSink(int payload, CaseFaults faults)
{
    private readonly byte[] _copy = new byte[payload];
    private readonly ManualResetEventSlim _reached = new();
    private StreamDigest _digest;
    private ulong _expected = 1;
    private long _target = long.MaxValue;

    /// <summary>Messages whose sequence number or length was not the next expected, over every run.</summary>
    public long SequenceErrors;

    /// <summary>The first of those, for the error message.</summary>
    public string? FirstError;

    /// <summary>Messages received.</summary>
    public long Received => Volatile.Read(ref _received);
    private long _received;

    /// <summary>What arrived, in order (read once <see cref="Wait"/> has returned).</summary>
    public StreamDigest Digest => _digest;

    /// <summary>Takes one received payload (on the remote loop's thread).</summary>
    public void Receive(ReadOnlySpan<byte> message)
    {
        if (message.Length != _copy.Length || SequencedPayloads.SequenceOf(message) != _expected)
        {
            if (SequenceErrors++ == 0)
                FirstError = $"message {_expected} arrived as {message.Length} bytes numbered {(message.Length >= sizeof(ulong) ? SequencedPayloads.SequenceOf(message) : 0)}";
            if (message.Length >= sizeof(ulong)) _expected = SequencedPayloads.SequenceOf(message);
        }
        _expected++;
        int n = Math.Min(message.Length, _copy.Length);
        message[..n].CopyTo(_copy);
        _digest = _digest.Add(PayloadChecksum.Of(_copy.AsSpan(0, n)), message.Length);
        long received = _received + 1;
        Volatile.Write(ref _received, received);
        if (received == Volatile.Read(ref _target)) _reached.Set();
    }

    /// <summary>
    /// Sets the count the next <see cref="Wait"/> waits for: <paramref name="total"/> messages since the sink was created.
    /// Called before the messages that reach it are sent, so the callback cannot pass it unseen.
    /// </summary>
    public void Expect(long total)
    {
        _reached.Reset();
        Volatile.Write(ref _target, total);
    }

    /// <summary>Waits until the count set by <see cref="Expect"/> has arrived.</summary>
    public void Wait() =>
        faults.Wait(_reached, TimeSpan.FromMinutes(2), () => $"the remote received {Received} of {Volatile.Read(ref _target)} messages");
}

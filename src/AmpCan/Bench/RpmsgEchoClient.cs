using System.Diagnostics;
using AmpCan.Rpmsg;
using AmpCan.SharedMem.Doorbells;

namespace AmpCan.Host.Bench;

/// <summary>
/// Host side of the rpmsg round-trip benchmark: one message in flight; the reply callback (on the host loop) checks
/// the whole reply once its time is taken, and sends the next.
/// </summary>
internal sealed class RpmsgEchoClient(int payload, CaseFaults faults)
{
    private readonly SequencedPayloads _payloads = new(payload);
    private readonly ManualResetEventSlim _done = new();
    private long[] _samples = [];
    private int _count;
    private long _sentAt;
    private ulong _seq;

    /// <summary>The host endpoint bound to the remote's echo service.</summary>
    public RpmsgEndpoint Endpoint = null!;

    /// <summary>Replies that were not exactly their request, over every run.</summary>
    public int Errors;

    /// <summary>Round trips completed, over every run.</summary>
    public long Completed;

    /// <summary>Measures <paramref name="n"/> round trips and returns their durations in ticks.</summary>
    public long[] Run(NotificationLoop loop, int n)
    {
        _samples = new long[n];
        _count = 0;
        _done.Reset();
        Send();
        faults.Wait(_done, TimeSpan.FromMinutes(5), () => $"echoes stalled after {_count} of {n}");
        return _samples;
    }

    private void Send()
    {
        _seq++;
        ReadOnlySpan<byte> message = _payloads.Stamp(_seq);
        _sentAt = Stopwatch.GetTimestamp();
        Endpoint.Send(message);
    }

    /// <summary>The endpoint's receive callback.</summary>
    public void OnReply(in RpmsgReceivedMessage m)
    {
        long dt = Stopwatch.GetTimestamp() - _sentAt;
        if (!_payloads.Matches(m.Payload, _seq)) Errors++;
        Completed++;
        _samples[_count++] = dt;
        if (_count == _samples.Length) _done.Set();
        else Send();
    }
}

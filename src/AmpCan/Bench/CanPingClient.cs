using System.Diagnostics;
using AmpCan.SharedMem.Doorbells;
using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;

namespace AmpCan.Host.Bench;

/// <summary>
/// The round-trip benchmark's client on a loop's thread: one frame in flight on <see cref="LoopCanMember.Port"/> (the
/// virtio-can driver, or a plain bus port for the floor), timed from just before it is built and sent to the moment its
/// reply is taken; each reply is compared with the whole request (identifier with the reply bit, kind, length, data)
/// once its time is taken.
/// </summary>
internal sealed class CanPingClient(ICanPort port, NotificationLoop loop, CanBenchFrames frames, CaseFaults faults) : LoopCanMember(port, loop)
{
    private readonly ManualResetEventSlim _done = new();
    private long[] _samples = [];
    private int _count;
    private long _sentAt;
    private ulong _seq;
    private CanFrame _frame;
    private bool _resend;
    private volatile bool _startRequested;

    /// <summary>Replies that were not exactly their request, over every run.</summary>
    public long Errors;

    /// <summary>Sends the port answered Busy (retried on the next pass), over every run.</summary>
    public long Busy;

    /// <summary>Measures <paramref name="n"/> round trips on the loop's thread and returns their durations in ticks.</summary>
    public long[] Run(int n)
    {
        _samples = new long[n];
        _count = 0;
        _done.Reset();
        _startRequested = true;
        Loop.Wake();
        faults.Wait(_done, TimeSpan.FromMinutes(5), () => $"round trips stalled after {_count} of {n}");
        return _samples;
    }

    protected override bool HasWork => _startRequested || _resend;

    protected override bool Work()
    {
        bool did = false;
        if (_startRequested)
        {
            _startRequested = false;
            Send();
            did = true;
        }
        else if (_resend)
        {
            Transmit();
            did = true;
        }
        while (Port.TryReceive(out CanFrame reply))
        {
            did = true;
            if (reply.IsEcho || reply.IsError) continue;
            long dt = Stopwatch.GetTimestamp() - _sentAt;
            if (!frames.Matches(reply, _seq, CanBenchFrames.ReplyBit)) Errors++;
            _samples[_count++] = dt;
            if (_count == _samples.Length) _done.Set();
            else Send();
        }
        return did;
    }

    private void Send()
    {
        _seq++;
        _sentAt = Stopwatch.GetTimestamp();
        frames.Fill(ref _frame, _seq);
        Transmit();
    }

    private void Transmit()
    {
        CanSendResult r = Port.Send(_frame);
        _resend = r == CanSendResult.Busy;
        if (_resend) Busy++;
        else if (r != CanSendResult.Sent) faults.Report($"round-trip client on {Port.Name}", new BenchmarkFailedException($"the port answered a send {r}"));
    }
}

using System.Diagnostics;
using AmpCan.SharedMem.Doorbells;
using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;

namespace AmpCan.Host.Bench;

/// <summary>
/// The receiving end of a CAN stream, on a loop's thread: takes every frame its port holds, checks that it is exactly
/// the next one in sequence (a lost, repeated or reordered frame, or one changed on the way, is an error), and notes when
/// the latest arrived. <paramref name="drained"/>, if given, is called after each batch taken (a flooder's credit).
/// </summary>
internal sealed class CanStreamSink(ICanPort port, NotificationLoop loop, CanBenchFrames frames, CaseFaults faults, Action? drained = null)
    : LoopCanMember(port, loop)
{
    private readonly ManualResetEventSlim _reached = new();
    private ulong _expected = 1;
    private long _target = long.MaxValue;
    private long _received, _lastAt;

    /// <summary>Frames that were not exactly the next expected, over every run.</summary>
    public long SequenceErrors;

    /// <summary>The first of those, for the error message.</summary>
    public string? FirstError;

    /// <summary>Frames taken since the sink was made (any thread).</summary>
    public long Received => Volatile.Read(ref _received);

    /// <summary>When the latest frame was taken (Stopwatch ticks; read once <see cref="Wait"/> has returned).</summary>
    public long LastAt => Volatile.Read(ref _lastAt);

    protected override bool Work()
    {
        long received = _received;
        while (Port.TryReceive(out CanFrame frame))
        {
            if (frame.IsEcho || frame.IsError) continue;
            if (!frames.Matches(frame, _expected))
            {
                ulong got = CanBenchFrames.SequenceOf(frame);
                if (SequenceErrors++ == 0)
                    FirstError = $"frame {_expected} arrived as id 0x{frame.Id:x} {frame.Kind} {frame.Length} bytes numbered {got}";
                if (got != 0) _expected = got;
            }
            _expected++;
            received++;
        }
        if (received == _received) return false;
        Volatile.Write(ref _lastAt, Stopwatch.GetTimestamp());
        Volatile.Write(ref _received, received);
        drained?.Invoke();
        if (received >= Volatile.Read(ref _target)) _reached.Set();
        return true;
    }

    /// <summary>Sets the count the next <see cref="Wait"/> waits for: <paramref name="total"/> frames since the sink was made (before they are sent).</summary>
    public void Expect(long total)
    {
        _reached.Reset();
        Volatile.Write(ref _target, total);
        if (Received >= total) _reached.Set();
    }

    /// <summary>Waits until the count set by <see cref="Expect"/> has arrived.</summary>
    public void Wait(TimeSpan timeout) =>
        faults.Wait(_reached, timeout, () => $"{Port.Name} received {Received} of {Volatile.Read(ref _target)} frames");
}

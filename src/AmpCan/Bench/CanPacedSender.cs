using System.Diagnostics;
using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;

namespace AmpCan.Host.Bench;

/// <summary>
/// Sends numbered frames through a port from the calling thread (an application's thread, not a loop) at a fixed rate:
/// frame k is due k / rate seconds after the start; whatever is due is sent, then the thread sleeps a millisecond. A
/// Busy answer (every transmit slot in use) is retried after the sleep and counted.
/// </summary>
/// <remarks>
/// A thread the scheduler kept off the CPU finds many frames due at once. It catches up by at most
/// <see cref="MaxCatchUp"/> frames and moves its schedule on for the rest (counted as <see cref="Result.Slips"/>): a
/// burst longer than the bus's transmit queue would be a stream above the bus rate, not just below it.
/// </remarks>
internal static class CanPacedSender
{
    /// <summary>The most frames sent at once after a stall (half the bus's transmit queue).</summary>
    public const int MaxCatchUp = 128;

    /// <summary>What one paced run did.</summary>
    /// <param name="Sent">Frames sent.</param>
    /// <param name="BusyAnswers">Sends answered Busy (retried).</param>
    /// <param name="Slips">Times the schedule was moved on after a stall.</param>
    /// <param name="StartedAt">When the first frame was due (Stopwatch ticks).</param>
    /// <param name="AllocatedBytes">Bytes the sending thread allocated.</param>
    public readonly record struct Result(long Sent, long BusyAnswers, long Slips, long StartedAt, long AllocatedBytes);

    /// <summary>Sends frames <paramref name="firstSeq"/> on, <paramref name="n"/> of them, at <paramref name="rate"/> frames/s.</summary>
    public static Result Run(ICanPort port, CanBenchFrames frames, ulong firstSeq, long n, double rate, CaseFaults faults)
    {
        double ticksPerFrame = Stopwatch.Frequency / rate;
        CanFrame frame = default;
        long busy = 0, sent = 0, slips = 0;
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        long start = Stopwatch.GetTimestamp();
        long origin = start, originFrame = 0; // frame originFrame + k is due k / rate after origin
        while (sent < n)
        {
            long now = Stopwatch.GetTimestamp();
            long due = originFrame + (long)((now - origin) / ticksPerFrame) + 1;
            if (due - sent > MaxCatchUp)
            {
                slips++;
                origin = now;
                originFrame = sent;
                due = sent + 1;
            }
            due = Math.Min(n, due);
            while (sent < due)
            {
                frames.Fill(ref frame, firstSeq + (ulong)sent);
                CanSendResult r = port.Send(frame);
                if (r == CanSendResult.Busy)
                {
                    busy++;
                    break;
                }
                if (r != CanSendResult.Sent) throw new BenchmarkFailedException($"paced sender on {port.Name}: the port answered a send {r}");
                sent++;
            }
            faults.ThrowIfFaulted();
            if (sent < n) Thread.Sleep(1);
        }
        return new Result(sent, busy, slips, start, GC.GetAllocatedBytesForCurrentThread() - allocatedBefore);
    }
}

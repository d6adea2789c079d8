using AmpCan.SharedMem.Doorbells;
using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;

namespace AmpCan.Host.Bench;

/// <summary>
/// A bus member that answers every frame with the same frame, its identifier ORed with <see cref="CanBenchFrames.ReplyBit"/>,
/// from its loop's thread (run on the device's loop: the answer costs no thread hop).
/// </summary>
internal sealed class CanEchoMember(ICanPort port, NotificationLoop loop, CaseFaults faults) : LoopCanMember(port, loop)
{
    /// <summary>Frames answered.</summary>
    public long Answered;

    protected override bool Work()
    {
        bool did = false;
        while (Port.TryReceive(out CanFrame frame))
        {
            did = true;
            if (frame.IsEcho || frame.IsError) continue;
            frame.Id |= CanBenchFrames.ReplyBit;
            CanSendResult r = Port.Send(frame);
            if (r != CanSendResult.Sent)
            {
                faults.Report($"echo member {Port.Name}", new BenchmarkFailedException($"the bus answered the reply {r}"));
                return true;
            }
            Answered++;
        }
        return did;
    }
}

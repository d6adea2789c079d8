using System.Buffers.Binary;
using System.Diagnostics;
using AmpCan.SharedMem.Doorbells;
using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;

namespace AmpCan.Host.Bench;

/// <summary>
/// The host's member of the bus in <see cref="VhostUserCanBench"/>, run on the served device's own loop (as the members
/// of <c>bench can</c> run on the device's loop: no thread hop, no wake-up per frame). It takes the guest's stream
/// (identifier <see cref="StreamId"/>, 8 bytes holding a little-endian counter from 0, as <c>cangen -D i</c> sends
/// them) and checks every frame; on the guest's <see cref="GoId"/> frame it sends <paramref name="count"/> numbered
/// <see cref="CanBenchFrames"/> towards the guest. It notes the time and the loop thread's CPU time at each phase's
/// first and last frame, so the cost is that of the streams alone, not of the guest's boot.
/// </summary>
/// <remarks>
/// A bus has no flow control: past the capacity of the device's port frames would be dropped, and the figure would be a
/// loss rate. So at most <see cref="CanBench.FloodWindow"/> of them wait in the device's port at once; the device takes
/// them as the guest's driver posts receive buffers, on this same loop, which then runs this member again.
/// </remarks>
internal sealed class VhostCanBenchPeer(ICanPort port, NotificationLoop loop, ICanPort devicePort, long count, CaseFaults faults)
    : LoopCanMember(port, loop)
{
    /// <summary>The identifier of the guest's stream.</summary>
    public const uint StreamId = 0x123;

    /// <summary>The identifier of the frame by which the guest says it listens for the host's stream.</summary>
    public const uint GoId = 0x7FF;

    /// <summary>A moment on the loop: Stopwatch ticks, the loop thread's CPU time, and how often the loop had parked.</summary>
    public readonly record struct Mark(long At, TimeSpan Cpu, long Parks);

    private readonly CanBenchFrames _frames = new(fd: false);
    private CanFrame _frame;
    private long _received, _sent;
    private bool _flooding;
    private int _done; // 1: the guest's stream is in; 2: the host's stream is out; 3: both

    /// <summary>The guest's stream: its first and its <c>count</c>-th frame taken.</summary>
    public (Mark First, Mark Last) GuestToHost { get; private set; }

    /// <summary>The host's stream: the guest's go frame taken, and the device holding none of the frames any more (all in the guest's receive buffers).</summary>
    public (Mark First, Mark Last) HostToGuest { get; private set; }

    /// <summary>Frames of the guest's stream taken so far.</summary>
    public long Received => Volatile.Read(ref _received);

    /// <summary>Frames of the host's stream sent so far.</summary>
    public long Sent => Volatile.Read(ref _sent);

    /// <summary>True once the guest's stream is all in.</summary>
    public bool GuestStreamDone => (Volatile.Read(ref _done) & 1) != 0;

    /// <summary>True once the device has taken every frame of the host's stream.</summary>
    public bool HostStreamDone => (Volatile.Read(ref _done) & 2) != 0;

    /// <summary>Frames of the guest's stream that were not the next expected (or had another identifier, kind or length).</summary>
    public long SequenceErrors { get; private set; }

    /// <summary>The first of those, for the error message.</summary>
    public string? FirstError { get; private set; }

    protected override bool HasWork => _flooding && (_sent < count ? devicePort.Pending < CanBench.FloodWindow : devicePort.Pending == 0);

    protected override bool Work()
    {
        bool did = false;
        while (Port.TryReceive(out CanFrame frame))
        {
            did = true;
            if (frame.IsEcho || frame.IsError) continue;
            if (frame.Id == GoId && !frame.IsExtended)
            {
                if (_flooding || HostStreamDone) Error(frame, "a second go frame");
                else
                {
                    HostToGuest = (Now(), default);
                    _flooding = true;
                }
                continue;
            }
            Take(frame);
        }
        if (_flooding) did |= Flood();
        return did;
    }

    private void Take(in CanFrame frame)
    {
        ulong expected = (ulong)_received;
        if (frame.Id != StreamId || frame.Kind != CanFrameKind.None || frame.Length != 8
            || BinaryPrimitives.ReadUInt64LittleEndian(((ReadOnlySpan<byte>)frame.Data)[..8]) != expected)
            Error(frame, $"frame {expected} of the guest's stream");
        long received = _received + 1;
        if (received == 1) GuestToHost = (Now(), default);
        if (received == count)
        {
            GuestToHost = (GuestToHost.First, Now());
            Interlocked.Or(ref _done, 1);
        }
        Volatile.Write(ref _received, received);
    }

    private bool Flood()
    {
        long sent = _sent;
        while (sent < count && devicePort.Pending < CanBench.FloodWindow)
        {
            _frames.Fill(ref _frame, (ulong)sent + 1);
            CanSendResult r = Port.Send(_frame);
            if (r != CanSendResult.Sent)
            {
                faults.Report($"host stream on {Port.Name}", new BenchmarkFailedException($"the bus answered a send {r}"));
                _flooding = false;
                break;
            }
            sent++;
        }
        bool did = sent != _sent;
        Volatile.Write(ref _sent, sent);
        if (_flooding && sent == count && devicePort.Pending == 0)
        {
            HostToGuest = (HostToGuest.First, Now());
            _flooding = false;
            Interlocked.Or(ref _done, 2);
        }
        return did;
    }

    private void Error(in CanFrame frame, string expected)
    {
        if (SequenceErrors++ == 0)
            FirstError = $"{expected} arrived as id 0x{frame.Id:x} {frame.Kind} {frame.Length} bytes {Convert.ToHexString(((ReadOnlySpan<byte>)frame.Data)[..Math.Min((int)frame.Length, 8)])}";
    }

    private Mark Now() => new(Stopwatch.GetTimestamp(), Loop.CpuTime ?? TimeSpan.Zero, Loop.Parks);
}

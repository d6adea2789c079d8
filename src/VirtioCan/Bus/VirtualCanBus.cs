using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AmpCan.VirtioCan.Bus;

/// <summary>
/// An in-process CAN bus: every frame one member sends reaches every other member, in the order it was sent, as on a
/// wire. Members are device instances, driver instances, logs; each receives into a bounded queue of its own, so a
/// member that does not keep up loses frames (counted) instead of growing memory or holding the others up.
/// </summary>
/// <remarks>
/// Unpaced (no bitrate, the default) a frame reaches the members inside <see cref="VirtualCanPort.Send"/>. Paced, it
/// waits in the bus's bounded transmit queue and reaches them once the wire would have carried it
/// (<see cref="CanWireTime"/>); a send that finds the queue full is answered <see cref="CanSendResult.Busy"/>, and a
/// frame answered <see cref="CanSendResult.Sent"/> is always carried (unless the bus is disposed first). The queue is
/// shared by all members and served in send order: one member that floods it keeps the others waiting, as a
/// high-priority flood does on a wire.
/// </remarks>
public sealed class VirtualCanBus : IDisposable
{
    /// <summary>The transmit queue's default length: 28 ms of 8-byte frames at 1 Mbit/s.</summary>
    public const int DefaultTransmitQueue = 256;

    private readonly Lock _gate = new();
    private VirtualCanPort[] _ports = [];
    private readonly VirtualCanBusPacer? _pacer;
    private long _carried, _refused;
    private volatile bool _disposed;

    /// <summary>
    /// A bus with a name, for logs; with a <paramref name="bitrate"/> (bit/s) it is paced: frames take their time on the
    /// wire, a CAN FD frame's data phase at <paramref name="dataBitrate"/> when it switches bit rate (0: the nominal
    /// rate), and up to <paramref name="transmitQueue"/> frames wait for it.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A rate or the queue length is out of range (the message names it and its value).</exception>
    public VirtualCanBus(string name, int bitrate = 0, int dataBitrate = 0, int transmitQueue = DefaultTransmitQueue, ILogger? logger = null)
    {
        if (bitrate < 0) throw new ArgumentOutOfRangeException(nameof(bitrate), bitrate, $"CAN bus {name}: bitrate {bitrate} bit/s; give a positive rate, or 0 for an unpaced bus");
        if (dataBitrate < 0) throw new ArgumentOutOfRangeException(nameof(dataBitrate), dataBitrate, $"CAN bus {name}: data bitrate {dataBitrate} bit/s; give a positive rate, or 0 for the nominal rate");
        if (dataBitrate != 0 && bitrate == 0) throw new ArgumentOutOfRangeException(nameof(dataBitrate), dataBitrate, $"CAN bus {name}: a data bitrate ({dataBitrate} bit/s) needs a nominal bitrate; an unpaced bus has neither");
        if (dataBitrate != 0 && dataBitrate < bitrate) throw new ArgumentOutOfRangeException(nameof(dataBitrate), dataBitrate, $"CAN bus {name}: data bitrate {dataBitrate} bit/s is below the nominal {bitrate} bit/s; CAN FD switches up, never down");
        if (transmitQueue < 1) throw new ArgumentOutOfRangeException(nameof(transmitQueue), transmitQueue, $"CAN bus {name}: transmit queue of {transmitQueue} frames; it holds at least one");
        Name = name;
        Bitrate = bitrate;
        DataBitrate = dataBitrate == 0 ? bitrate : dataBitrate;
        if (bitrate > 0) _pacer = new VirtualCanBusPacer(this, bitrate, DataBitrate, transmitQueue, logger ?? NullLogger.Instance);
    }

    /// <summary>The bus's name.</summary>
    public string Name { get; }

    /// <summary>The nominal bit rate in bit/s, or 0 for an unpaced bus.</summary>
    public int Bitrate { get; }

    /// <summary>The rate of a CAN FD frame's data phase when it switches bit rate (the nominal rate unless set).</summary>
    public int DataBitrate { get; }

    /// <summary>True when frames take their time on the wire.</summary>
    public bool IsPaced => _pacer is not null;

    /// <summary>The members attached now.</summary>
    public IReadOnlyList<VirtualCanPort> Ports => Volatile.Read(ref _ports);

    // The same as an array, walked without an enumerator (no allocation per frame); replaced, never changed in place.
    internal VirtualCanPort[] Members => Volatile.Read(ref _ports);

    /// <summary>Frames carried to the members.</summary>
    public long Carried => Interlocked.Read(ref _carried);

    /// <summary>Sends answered <see cref="CanSendResult.Busy"/> because the transmit queue was full.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Frames waiting for the wire (always 0 unpaced).</summary>
    public int Waiting => _pacer?.Waiting ?? 0;

    /// <summary>Attaches a member that keeps up to <paramref name="capacity"/> frames it has not taken yet.</summary>
    public VirtualCanPort Attach(string name, int capacity = 256)
    {
        var port = new VirtualCanPort(this, name, capacity);
        lock (_gate) _ports = [.. _ports, port];
        return port;
    }

    internal void Detach(VirtualCanPort port)
    {
        lock (_gate) _ports = _ports.Where(p => p != port).ToArray();
    }

    // A member's frame: carried now (unpaced) or queued for the wire (paced).
    internal CanSendResult Submit(VirtualCanPort from, in CanFrame frame)
    {
        if (_disposed) return CanSendResult.Down;
        if (_pacer is null)
        {
            Carry(from, frame);
            WakeMembers();
            return CanSendResult.Sent;
        }
        CanSendResult result = _pacer.Queue(from, frame);
        if (result == CanSendResult.Busy) Interlocked.Increment(ref _refused);
        return result;
    }

    // Queued under the bus's lock, so that every member sees every other member's frames in one order; the sender's
    // echo last, so that a confirmation never precedes the frame's arrival anywhere. The members are woken after the
    // lock (a wake-up is a system call, and the other senders need not wait for it).
    internal void Carry(VirtualCanPort from, in CanFrame frame)
    {
        lock (_gate)
        {
            Interlocked.Increment(ref _carried); // counted before any member can see it
            VirtualCanPort[] ports = _ports;
            foreach (VirtualCanPort p in ports)
                if (p != from) p.Enqueue(frame);
            if (from.ConfirmsTransmits && Array.IndexOf(ports, from) >= 0) from.Enqueue(frame, echo: true); // in bus order, as SocketCAN's own-message echo
        }
    }

    private void WakeMembers()
    {
        foreach (VirtualCanPort p in Members) p.WakeIfQueued();
    }

    /// <summary>Stops the bus: later sends are answered <see cref="CanSendResult.Down"/>; frames still waiting for the wire are not carried.</summary>
    public void Dispose()
    {
        _disposed = true;
        _pacer?.Dispose();
    }
}

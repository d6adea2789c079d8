using AmpCan.VirtioCan.Wire;
using AmpCan.Vring;

namespace AmpCan.VirtioCan;

/// <summary>Buffers, queue bounds and features of a <see cref="VirtioCanDriver"/>.</summary>
public sealed record VirtioCanDriverOptions
{
    /// <summary>Every feature the driver knows: classic, FD and RTR frames, late transmit acknowledgement, VERSION_1, EVENT_IDX, indirect descriptors.</summary>
    public static readonly ulong AllFeatures = VirtioCanFeatures.Mask(VirtioCanFeatures.CanClassic) | VirtioCanFeatures.Mask(VirtioCanFeatures.CanFd)
        | VirtioCanFeatures.Mask(VirtioCanFeatures.RtrFrames) | VirtioCanFeatures.Mask(VirtioCanFeatures.LateTxAck)
        | VirtioRingFeatures.Bit(VirtioRingFeatures.Version1) | VirtioRingFeatures.Bit(VirtioRingFeatures.EventIndex)
        | VirtioRingFeatures.Bit(VirtioRingFeatures.IndirectDescriptors);

    /// <summary>Features the driver accepts when the device offers them (default <see cref="AllFeatures"/>).</summary>
    public ulong SupportedFeatures { get; init; } = AllFeatures;

    /// <summary>Frames from the bus kept until taken; beyond it they are dropped and counted.</summary>
    public int ReceiveCapacity { get; init; } = 256;

    /// <summary>
    /// Transmit buffers at most (fewer when the transmit queue holds fewer requests: one descriptor each with indirect
    /// descriptors, two without); every one of them may await its confirmation at once.
    /// </summary>
    public int MaxTransmitBuffers { get; init; } = 64;

    /// <summary>Receive buffers at most (fewer when the receive queue is smaller).</summary>
    public int MaxReceiveBuffers { get; init; } = 256;

    /// <summary>Used receive buffers handled per loop pass before the other queues get a turn.</summary>
    public int ReceiveBatch { get; init; } = 64;

    /// <summary>Checks the values; a bad one is named with what would be valid.</summary>
    /// <exception cref="ArgumentException">A count below 1.</exception>
    public void Validate()
    {
        if (ReceiveCapacity < 1) throw new ArgumentException($"ReceiveCapacity {ReceiveCapacity}: keep at least 1 frame", nameof(ReceiveCapacity));
        if (MaxTransmitBuffers < 1) throw new ArgumentException($"MaxTransmitBuffers {MaxTransmitBuffers}: at least 1", nameof(MaxTransmitBuffers));
        if (MaxReceiveBuffers < 1) throw new ArgumentException($"MaxReceiveBuffers {MaxReceiveBuffers}: at least 1", nameof(MaxReceiveBuffers));
        if (ReceiveBatch < 1) throw new ArgumentException($"ReceiveBatch {ReceiveBatch}: at least 1", nameof(ReceiveBatch));
    }
}

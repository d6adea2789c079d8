using System.Buffers;

namespace AmpCan.Rpmsg;

/// <summary>Handles a message on the device's loop thread; the payload is valid during the call unless held.</summary>
public delegate void RpmsgReceiveCallback(in RpmsgReceivedMessage message);

/// <summary>
/// A message as the receive callback sees it: a view of the payload in the shared receive buffer. Call
/// <see cref="Hold"/> to keep the buffer past the callback (zero copy) and release it later.
/// </summary>
public readonly ref struct RpmsgReceivedMessage
{
    private readonly RpmsgBus _bus;
    private readonly int _bufferId;

    internal RpmsgReceivedMessage(RpmsgBus bus, RpmsgEndpoint endpoint, uint source, ReadOnlySpan<byte> payload, int bufferId)
    {
        _bus = bus;
        Endpoint = endpoint;
        Source = source;
        Payload = payload;
        _bufferId = bufferId;
    }

    /// <summary>The endpoint the message was addressed to.</summary>
    public RpmsgEndpoint Endpoint { get; }

    /// <summary>The sender's address.</summary>
    public uint Source { get; }

    /// <summary>The payload (a live view of shared memory).</summary>
    public ReadOnlySpan<byte> Payload { get; }

    /// <summary>Keeps the receive buffer after the callback returns; give it back with <see cref="RpmsgHeldBuffer.Release"/>.</summary>
    public RpmsgHeldBuffer Hold() => _bus.HoldCurrent(_bufferId, Source, Payload.Length);
}

/// <summary>A receive buffer kept past its callback. Release it exactly once, from any thread.</summary>
public readonly struct RpmsgHeldBuffer
{
    private readonly RpmsgBus _bus;
    private readonly int _bufferId;
    private readonly int _generation;

    internal RpmsgHeldBuffer(RpmsgBus bus, int bufferId, int generation, uint source, int length)
    {
        _bus = bus;
        _bufferId = bufferId;
        _generation = generation;
        Source = source;
        Length = length;
    }

    /// <summary>The sender's address.</summary>
    public uint Source { get; }

    /// <summary>Payload length.</summary>
    public int Length { get; }

    /// <summary>The payload, still in the shared receive buffer.</summary>
    public ReadOnlySpan<byte> Payload => _bus.HeldPayload(_bufferId, _generation, Length);

    /// <summary>Returns the buffer to the transport; a second release throws.</summary>
    public void Release() => _bus.ReleaseHeld(_bufferId, _generation);
}

/// <summary>A message copied out for the queued (async) receive API; dispose it to return its pooled array.</summary>
public struct RpmsgMessage : IDisposable
{
    private byte[]? _array;

    internal RpmsgMessage(uint source, ReadOnlySpan<byte> payload)
    {
        Source = source;
        Length = payload.Length;
        _array = ArrayPool<byte>.Shared.Rent(Math.Max(1, payload.Length));
        payload.CopyTo(_array);
    }

    /// <summary>The sender's address.</summary>
    public uint Source { get; }

    /// <summary>Payload length.</summary>
    public int Length { get; }

    /// <summary>The payload.</summary>
    public readonly ReadOnlySpan<byte> Payload => _array is null ? [] : _array.AsSpan(0, Length);

    /// <summary>A copy of the payload that outlives the message.</summary>
    public readonly byte[] ToArray() => Payload.ToArray();

    /// <summary>Returns the pooled array.</summary>
    public void Dispose()
    {
        byte[]? a = _array;
        _array = null;
        if (a is not null) ArrayPool<byte>.Shared.Return(a);
    }
}

/// <summary>A transmit buffer handed to the caller for zero-copy sending.</summary>
public readonly struct RpmsgTxBuffer
{
    private readonly RpmsgBus _bus;

    internal RpmsgTxBuffer(RpmsgBus bus, int id, int capacity, int generation)
    {
        _bus = bus;
        Id = id;
        Capacity = capacity;
        Generation = generation;
    }

    internal int Id { get; }
    internal int Generation { get; }

    /// <summary>Payload bytes this buffer can carry.</summary>
    public int Capacity { get; }

    /// <summary>Where to write the payload (shared memory; no copy happens on send).</summary>
    public Span<byte> Payload => _bus.TxPayload(this);
}

/// <summary>A channel the peer announced through the name service.</summary>
/// <param name="Name">Service name.</param>
/// <param name="RemoteAddress">The peer's endpoint address for the service.</param>
public sealed record RpmsgChannel(string Name, uint RemoteAddress)
{
    /// <summary>
    /// The local address a driver's endpoint for the channel takes (Linux's <c>rpdev->src</c>): ANY for a channel the
    /// peer just announced; the address the endpoint had before for a channel carried over a detach, since the peer's
    /// endpoint stays bound to it (OpenAMP binds its destination to the first source it hears from).
    /// </summary>
    public uint LocalAddress { get; init; } = RpmsgAddress.Any;

    /// <summary>The local endpoint a driver created for the channel, if any.</summary>
    public RpmsgEndpoint? Endpoint { get; internal set; }
}

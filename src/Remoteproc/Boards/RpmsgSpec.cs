using System.Text.Json.Serialization;

namespace AmpCan.Remoteproc.Boards;

/// <summary>The host's rpmsg buffer pool.</summary>
public sealed record RpmsgSpec
{
    /// <summary>Most buffers in one direction: one per ring entry, and a split ring has at most 32768.</summary>
    public const int MaxBuffers = AmpCan.Vring.VringLayout.MaxQueueSize;
    /// <summary>Smallest buffer: an rpmsg header and a name-service announcement (16 + 40 bytes).</summary>
    public const int MinBufferSize = AmpCan.Rpmsg.Wire.RpmsgHeader.Size + AmpCan.Rpmsg.Wire.NameServiceMessage.Size;
    /// <summary>Largest buffer: an rpmsg header and the most payload its u16 length can give.</summary>
    public const int MaxBufferSize = AmpCan.Rpmsg.Wire.RpmsgHeader.Size + ushort.MaxValue;

    /// <summary>Offset of the pool in the shared memory (receive buffers first, transmit after).</summary>
    [JsonConverter(typeof(HexNumberConverter))] public required ulong BufferPoolOffset { get; init; }
    /// <summary>Receive buffers, 1 to <see cref="MaxBuffers"/> (the ring may allow fewer; that is checked at start).</summary>
    public int RxBuffers { get; init; } = 256;
    /// <summary>Transmit buffers, 1 to <see cref="MaxBuffers"/>.</summary>
    public int TxBuffers { get; init; } = 256;
    /// <summary>Bytes per buffer, header included, <see cref="MinBufferSize"/> to <see cref="MaxBufferSize"/>.</summary>
    public int BufferSize { get; init; } = 512;
}

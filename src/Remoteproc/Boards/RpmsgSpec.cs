using System.Text.Json.Serialization;

namespace AmpCan.Remoteproc.Boards;

/// <summary>The host's rpmsg buffer pool.</summary>
public sealed record RpmsgSpec
{
    /// <summary>Offset of the pool in the shared memory (receive buffers first, transmit after).</summary>
    [JsonConverter(typeof(HexNumberConverter))] public required ulong BufferPoolOffset { get; init; }
    /// <summary>Receive buffers.</summary>
    public int RxBuffers { get; init; } = 256;
    /// <summary>Transmit buffers.</summary>
    public int TxBuffers { get; init; } = 256;
    /// <summary>Bytes per buffer, header included.</summary>
    public int BufferSize { get; init; } = 512;
}

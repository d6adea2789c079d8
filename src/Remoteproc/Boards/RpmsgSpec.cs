using System.Text.Json.Serialization;

namespace AmpCan.Remoteproc.Boards;

/// <summary>The host's rpmsg buffer pool.</summary>
public sealed record RpmsgSpec
{
    /// <summary>Vrings of the rpmsg vdev (the remote's tx and rx), and so notify ids it takes: the first two.</summary>
    public const int Vrings = 2;
    /// <summary>Most buffers in one direction: one per ring entry, and a split ring has at most 32768.</summary>
    public const int MaxBuffers = AmpCan.Vring.VringLayout.MaxQueueSize;
    // The rpmsg wire sizes a board file is checked against, as the remote's firmware sees them (remoteproc knows no
    // rpmsg types; the host's tests hold these to AmpCan.Rpmsg's wire constants).
    /// <summary>Bytes of an rpmsg header (<c>struct rpmsg_hdr</c>).</summary>
    public const int HeaderSize = 16;
    /// <summary>Bytes of a name-service announcement (<c>struct rpmsg_ns_msg</c>).</summary>
    public const int NameServiceMessageSize = 40;
    /// <summary>Bytes of a name in an announcement, its terminator included (RPMSG_NAME_SIZE).</summary>
    public const int NameSize = 32;
    /// <summary>Linux's MAX_RPMSG_NUM_BUFS: receive and transmit buffers together, at most.</summary>
    public const int LinuxMaxBuffers = 512;
    /// <summary>Smallest buffer: an rpmsg header and a name-service announcement (16 + 40 bytes).</summary>
    public const int MinBufferSize = HeaderSize + NameServiceMessageSize;
    /// <summary>Largest buffer: an rpmsg header and the most payload its u16 length can give.</summary>
    public const int MaxBufferSize = HeaderSize + ushort.MaxValue;

    /// <summary>Offset of the pool in the shared memory (receive buffers first, transmit after).</summary>
    [JsonConverter(typeof(HexNumberConverter))] public required ulong BufferPoolOffset { get; init; }
    /// <summary>Buffers each way when a count is not given and the ring is not known yet: Linux's most (MAX_RPMSG_NUM_BUFS / 2).</summary>
    public const int LinuxMaxPerDirection = LinuxMaxBuffers / 2;

    /// <summary>
    /// Receive buffers, 1 to <see cref="MaxBuffers"/>; absent: as Linux, half of min(2 × vq0 size, 512). A count the
    /// ring cannot hold is refused at start, naming both.
    /// </summary>
    public int? RxBuffers { get; init; }
    /// <summary>Transmit buffers, 1 to <see cref="MaxBuffers"/>; absent: as Linux (see <see cref="RxBuffers"/>).</summary>
    public int? TxBuffers { get; init; }
    /// <summary>Bytes per buffer, header included, <see cref="MinBufferSize"/> to <see cref="MaxBufferSize"/>.</summary>
    public int BufferSize { get; init; } = 512;

    /// <summary>The most bytes the pool can take: the counts given, or Linux's most where none is given.</summary>
    public ulong MaxPoolSize => ((ulong)(RxBuffers ?? LinuxMaxPerDirection) + (ulong)(TxBuffers ?? LinuxMaxPerDirection)) * (ulong)BufferSize;
}

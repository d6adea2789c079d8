using AmpCan.SharedMem;
using AmpCan.VirtioCan.Wire;
using AmpCan.Vring.Wire;

namespace AmpCan.VirtioCan;

/// <summary>
/// Where a <see cref="VirtioCanDriver"/>'s buffers sit in the memory the device can address, all placed once at probe:
/// transmit slots (a 16 + 64-byte request, then its one-byte answer), receive buffers of 16 + 64 bytes, one control
/// slot (2-byte request, one-byte answer), then the indirect descriptor tables of the transmit and control queues
/// when INDIRECT_DESC was negotiated. Every area starts 16-byte aligned.
/// </summary>
public sealed class VirtioCanDriverBuffers
{
    /// <summary>A frame request or a receive buffer: the header and the largest payload.</summary>
    public const int MessageSize = VirtioCanFrameHeader.Size + VirtioCanFrameHeader.MaxDataLength;

    /// <summary>Bytes per transmit slot: the request, then the answer byte at <see cref="TxAnswerAt"/>.</summary>
    public const int TxSlotSize = 96;

    /// <summary>Where a transmit slot's answer byte is.</summary>
    public const int TxAnswerAt = MessageSize;

    /// <summary>Bytes of the control slot: the request at 0, the answer byte at <see cref="ControlAnswerAt"/>.</summary>
    public const int ControlSlotSize = 16;

    /// <summary>Where the control slot's answer byte is.</summary>
    public const int ControlAnswerAt = 8;

    private const int TableEntries = 2; // a request's chain: what the device reads, the byte it answers in

    private readonly ulong _rxBase, _controlBase;

    /// <summary>Lays out <paramref name="txSlots"/> transmit slots and <paramref name="rxBuffers"/> receive buffers in <paramref name="memory"/>, with indirect tables for queues of the given sizes when <paramref name="indirect"/>.</summary>
    /// <exception cref="ArgumentException">The memory is smaller than <see cref="Size"/> says these need.</exception>
    public VirtioCanDriverBuffers(IoRegion memory, int txSlots, int rxBuffers, int txQueueSize, int controlQueueSize, bool indirect)
    {
        ulong need = Size(txSlots, rxBuffers, txQueueSize, controlQueueSize, indirect);
        if (memory.Length < need)
            throw new ArgumentException($"buffer memory '{memory.Name}' has {memory.Length} bytes; {txSlots} transmit slots, {rxBuffers} receive buffers"
                + (indirect ? " and indirect tables" : "") + $" need {need}", nameof(memory));
        Memory = memory;
        TxSlots = txSlots;
        RxBuffers = rxBuffers;
        _rxBase = (ulong)txSlots * TxSlotSize;
        _controlBase = _rxBase + (ulong)rxBuffers * MessageSize;
        if (indirect)
        {
            ulong txTables = _controlBase + ControlSlotSize;
            ulong controlTables = txTables + TableBytes(txQueueSize);
            TxIndirectTables = memory.Slice(txTables, TableBytes(txQueueSize));
            ControlIndirectTables = memory.Slice(controlTables, TableBytes(controlQueueSize));
        }
    }

    /// <summary>Bytes these buffers need.</summary>
    public static ulong Size(int txSlots, int rxBuffers, int txQueueSize, int controlQueueSize, bool indirect) =>
        (ulong)txSlots * TxSlotSize + (ulong)rxBuffers * MessageSize + ControlSlotSize
        + (indirect ? TableBytes(txQueueSize) + TableBytes(controlQueueSize) : 0);

    private static ulong TableBytes(int queueSize) => (ulong)queueSize * TableEntries * VirtqDescriptor.Size;

    /// <summary>The memory the buffers are in.</summary>
    public IoRegion Memory { get; }

    /// <summary>Transmit slots.</summary>
    public int TxSlots { get; }

    /// <summary>Receive buffers.</summary>
    public int RxBuffers { get; }

    /// <summary>The transmit queue's indirect tables, or null.</summary>
    public IoRegion? TxIndirectTables { get; }

    /// <summary>The control queue's indirect tables, or null.</summary>
    public IoRegion? ControlIndirectTables { get; }

    /// <summary>Offset of transmit slot <paramref name="slot"/>.</summary>
    public ulong TxOffset(int slot) => (ulong)slot * TxSlotSize;

    /// <summary>Offset of receive buffer <paramref name="index"/>.</summary>
    public ulong RxOffset(int index) => _rxBase + (ulong)index * MessageSize;

    /// <summary>Offset of the control slot.</summary>
    public ulong ControlOffset => _controlBase;

    /// <summary>The device's address of <paramref name="offset"/>.</summary>
    public ulong DeviceAddress(ulong offset) => Memory.DeviceAddress + offset;
}

using System.Text.Json.Serialization;
using AmpCan.SharedMem.Doorbells;

namespace AmpCan.Remoteproc.Boards;

/// <summary>The mailbox hardware behind a channel (board files say <c>"stm32-ipcc"</c>, <c>"imx-mu"</c>, …).</summary>
public enum MailboxBlockKind
{
    /// <summary>A register written to kick, nothing to acknowledge (the channel's mailboxOffset/mailboxValue; an ivshmem doorbell).</summary>
    Uio,
    /// <summary>STM32MP1 IPCC (stm32-ipcc.c): <c>channel</c> 0-15.</summary>
    Stm32Ipcc,
    /// <summary>i.MX Messaging Unit, side A (imx-mailbox.c, MU v1): <c>type</c> tx/rx/rxdb and <c>channel</c> 0-3.</summary>
    ImxMu,
    /// <summary>ZynqMP IPI, the host agent's registers (UG1085): <c>agentBit</c>, the remote agent's bit.</summary>
    ZynqmpIpi,
    /// <summary>TI OMAP4-style mailbox cluster (omap-mailbox.c): <c>rxFifo</c>, <c>txFifo</c>, <c>user</c>.</summary>
    OmapMailbox,
}

/// <summary>The i.MX MU channel types a board file names (<c>mboxes = &lt;&amp;mu type index&gt;</c>: 0 tx, 1 rx, 3 rxdb).</summary>
public enum MuChannelType
{
    /// <summary>Transmit register TRn (host to remote).</summary>
    Tx,
    /// <summary>Receive register RRn (remote to host).</summary>
    Rx,
    /// <summary>General-purpose interrupt GIPn (remote to host).</summary>
    Rxdb,
}

/// <summary>
/// Which mailbox block a channel is and which part of it: the kick (register and value) and, for a channel that carries
/// kicks from the remote, how its interrupt source is acknowledged. A polling channel may have one too, recording the
/// hardware the kernel drives (so that owning it is a change of kind and device, not of this).
/// </summary>
public sealed record MailboxBlockSpec
{
    /// <summary>The block.</summary>
    public required MailboxBlockKind Kind { get; init; }
    /// <summary>stm32-ipcc: the IPCC channel; imx-mu: the MU channel index (the second cell of <c>mboxes</c>).</summary>
    public int? Channel { get; init; }
    /// <summary>imx-mu: the channel's type.</summary>
    public MuChannelType? Type { get; init; }
    /// <summary>imx-mu tx: where the notify id goes in the message (imx_rproc: 16, the vq id in the upper half).</summary>
    public int? NotifyIdShift { get; init; }
    /// <summary>zynqmp-ipi: the remote agent's bit (its TRIG bit for kicks, its ISR bit for acknowledgements), one bit.</summary>
    [JsonConverter(typeof(HexNumberConverter))] public ulong? AgentBit { get; init; }
    /// <summary>omap-mailbox: the FIFO the remote's messages arrive in (<c>ti,mbox-rx</c>'s first cell).</summary>
    public int? RxFifo { get; init; }
    /// <summary>omap-mailbox: the FIFO the host's kicks go into (<c>ti,mbox-tx</c>'s first cell).</summary>
    public int? TxFifo { get; init; }
    /// <summary>omap-mailbox: the host's user (interrupt output) id (<c>ti,mbox-rx</c>'s third cell).</summary>
    public int? User { get; init; }

    /// <summary>The register a kick on this channel writes, or null for a generic block (the channel's mailbox fields say) or a receive-only channel.</summary>
    [JsonIgnore]
    public MailboxKick? Kick => Kind switch
    {
        MailboxBlockKind.Stm32Ipcc when Channel is int c => Stm32Ipcc.Kick(c),
        MailboxBlockKind.ImxMu when Type == MuChannelType.Tx && Channel is int c => ImxMu.Kick(c, NotifyIdShift ?? -1),
        MailboxBlockKind.ZynqmpIpi when AgentBit is ulong bit => ZynqMpIpi.Kick((uint)bit),
        MailboxBlockKind.OmapMailbox when TxFifo is int f => OmapMailbox.Kick(f),
        _ => null,
    };

    /// <summary>Whether the remote's kicks arrive through this channel's part of the block (its interrupt must be acknowledged).</summary>
    [JsonIgnore]
    public bool Receives => Kind switch
    {
        MailboxBlockKind.Uio => false,
        MailboxBlockKind.ImxMu => Type is MuChannelType.Rx or MuChannelType.Rxdb,
        MailboxBlockKind.OmapMailbox => RxFifo is not null,
        _ => true,
    };
}

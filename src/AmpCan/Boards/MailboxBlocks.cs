using AmpCan.Remoteproc.Boards;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;

namespace AmpCan.Host.Boards;

/// <summary>
/// The receive side of one UIO device's mailbox block, from the board's channels on it: what acknowledges the remote's
/// kicks on the channels the host owns (those carrying kicks from the remote), or null for a generic register.
/// </summary>
internal static class MailboxBlocks
{
    /// <summary>The acknowledgement for <paramref name="inbound"/> (the device's channels that carry kicks from the remote) in <paramref name="registers"/>.</summary>
    public static IMailboxAcknowledge? For(IReadOnlyList<MailboxSpec> inbound, IoRegion registers)
    {
        MailboxBlockSpec[] parts = [.. inbound.Select(m => m.Block).OfType<MailboxBlockSpec>().Where(b => b.Receives)];
        if (parts.Length == 0) return null;
        // The validator has made every channel of one device the same kind, with the fields that kind needs.
        return parts[0].Kind switch
        {
            MailboxBlockKind.Stm32Ipcc => new Stm32Ipcc(registers, parts.Aggregate(0u, (mask, p) => mask | 1u << p.Channel!.Value)),
            MailboxBlockKind.ImxMu => new ImxMu(registers, parts.Where(p => p.Type == MuChannelType.Rx).Select(p => p.Channel!.Value),
                parts.Where(p => p.Type == MuChannelType.Rxdb).Select(p => p.Channel!.Value)),
            MailboxBlockKind.ZynqmpIpi => new ZynqMpIpi(registers, parts.Aggregate(0u, (mask, p) => mask | (uint)p.AgentBit!.Value)),
            MailboxBlockKind.OmapMailbox => parts.Length == 1 ? new OmapMailbox(registers, parts[0].RxFifo!.Value, parts[0].User!.Value)
                : new MailboxAcknowledgements([.. parts.Select(p => new OmapMailbox(registers, p.RxFifo!.Value, p.User!.Value))]),
            _ => null,
        };
    }
}

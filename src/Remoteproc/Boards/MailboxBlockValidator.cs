using AmpCan.SharedMem.Doorbells;

namespace AmpCan.Remoteproc.Boards;

/// <summary>
/// A channel's <see cref="MailboxSpec.Block"/>: the fields its kind needs and no others, in range, agreeing with the
/// channel's direction; the kick's register not given twice (block and mailbox fields); one block kind per UIO device,
/// and no part of a block claimed by two channels.
/// </summary>
internal static class MailboxBlockValidator
{
    private const int MaxMuChannel = ImxMu.Channels - 1;

    /// <summary>Throws through <paramref name="fail"/> at the first block field that is wrong.</summary>
    public static void Validate(IReadOnlyList<MailboxSpec> mailboxes, Action<string, string> fail)
    {
        for (int i = 0; i < mailboxes.Count; i++)
            if (mailboxes[i].Block is { } block) Channel(mailboxes[i], block, $"mailboxes[{i}]", fail);
        OneKindPerDevice(mailboxes, fail);
        PartsClaimedOnce(mailboxes, fail);
    }

    private static void Channel(MailboxSpec m, MailboxBlockSpec k, string at, Action<string, string> fail)
    {
        string kind = RegionValidator.Kebab(k.Kind), where = $"{at}.block";
        if (m.Kind is not (DoorbellKind.Uio or DoorbellKind.Polling))
            fail(where, $"'{m.Name}' is '{RegionValidator.Kebab(m.Kind)}'; a block is for kind 'uio' (AmpCan drives it) or 'polling' (the kernel does)");
        if (k.Kind != MailboxBlockKind.Uio)
        {
            if (m.MailboxOffset is not null) fail($"{at}.mailboxOffset", $"comes from block kind '{kind}' for '{m.Name}'; leave it out");
            if (m.MailboxValue != 0) fail($"{at}.mailboxValue", $"comes from block kind '{kind}' for '{m.Name}'; leave it out");
            if (m.MailboxNotifyIdShift != -1) fail($"{at}.mailboxNotifyIdShift", $"comes from block kind '{kind}' for '{m.Name}'; leave it out (imx-mu: block.notifyIdShift)");
        }
        bool needsChannel = k.Kind == MailboxBlockKind.Stm32Ipcc || k.Kind == MailboxBlockKind.ImxMu;
        Only(k.Channel is not null, needsChannel, "channel", "stm32-ipcc and imx-mu");
        Only(k.Type is not null, k.Kind == MailboxBlockKind.ImxMu, "type", "imx-mu");
        Only(k.NotifyIdShift is not null, k.Kind == MailboxBlockKind.ImxMu && k.Type == MuChannelType.Tx, "notifyIdShift", "an imx-mu tx channel", optional: true);
        Only(k.AgentBit is not null, k.Kind == MailboxBlockKind.ZynqmpIpi, "agentBit", "zynqmp-ipi");
        Only(k.User is not null, k.Kind == MailboxBlockKind.OmapMailbox, "user", "omap-mailbox");
        Only(k.RxFifo is not null, k.Kind == MailboxBlockKind.OmapMailbox, "rxFifo", "omap-mailbox", optional: true);
        Only(k.TxFifo is not null, k.Kind == MailboxBlockKind.OmapMailbox, "txFifo", "omap-mailbox", optional: true);

        switch (k.Kind)
        {
            case MailboxBlockKind.Stm32Ipcc when k.Channel is < 0 or >= Stm32Ipcc.MaxChannels:
                fail($"{where}.channel", $"{k.Channel} is not an IPCC channel (0 to {Stm32Ipcc.MaxChannels - 1}; the STM32MP15 has 6)");
                break;
            case MailboxBlockKind.ImxMu when k.Channel is < 0 or > MaxMuChannel:
                fail($"{where}.channel", $"{k.Channel} is not an MU channel (0 to {MaxMuChannel})");
                break;
            case MailboxBlockKind.ImxMu when k.NotifyIdShift is < 0 or > 31:
                fail($"{where}.notifyIdShift", $"{k.NotifyIdShift} must be 0 to 31 (imx_rproc: 16)");
                break;
            case MailboxBlockKind.ZynqmpIpi when k.AgentBit is ulong bit && (bit == 0 || bit > uint.MaxValue || (bit & (bit - 1)) != 0):
                fail($"{where}.agentBit", $"0x{bit:x} is not one agent's bit (one bit of the 32-bit TRIG/ISR registers, RPU0's is 0x100)");
                break;
            case MailboxBlockKind.OmapMailbox:
                if (k.User is < 0 or >= OmapMailbox.MaxUsers) fail($"{where}.user", $"{k.User} is not a mailbox user (0 to {OmapMailbox.MaxUsers - 1})");
                if (k.RxFifo is null && k.TxFifo is null) fail(where, $"'{m.Name}' needs rxFifo (the remote's kicks), txFifo (the host's), or both");
                if (k.RxFifo is < 0 or >= OmapMailbox.MaxFifos) fail($"{where}.rxFifo", $"{k.RxFifo} is not a FIFO (0 to {OmapMailbox.MaxFifos - 1})");
                if (k.TxFifo is < 0 or >= OmapMailbox.MaxFifos) fail($"{where}.txFifo", $"{k.TxFifo} is not a FIFO (0 to {OmapMailbox.MaxFifos - 1})");
                if (k.RxFifo is not null && k.RxFifo == k.TxFifo) fail($"{where}.txFifo", $"{k.TxFifo} is the rxFifo too; a FIFO carries one way");
                break;
        }

        if (k.Kind == MailboxBlockKind.Uio) return;
        if (m.Direction != MailboxDirection.ToRemote && !k.Receives)
            fail($"{at}.direction", $"'{m.Name}' takes the remote's kicks ({RegionValidator.Kebab(m.Direction)}), but its {kind} part only sends; say \"direction\": \"to-remote\"");
        if (m.Direction != MailboxDirection.FromRemote && k.Kick is null)
            fail($"{at}.direction", $"'{m.Name}' kicks the remote ({RegionValidator.Kebab(m.Direction)}), but its {kind} part only receives; say \"direction\": \"from-remote\"");

        void Only(bool present, bool wanted, string field, string forWhom, bool optional = false)
        {
            if (present && !wanted) fail($"{where}.{field}", $"is for {forWhom}; '{m.Name}''s block is '{kind}'");
            if (!present && wanted && !optional) fail($"{where}.{field}", $"'{m.Name}''s block is '{kind}' and needs it");
        }
    }

    // One UIO device is one block with one interrupt: its channels are parts of that block.
    private static void OneKindPerDevice(IReadOnlyList<MailboxSpec> mailboxes, Action<string, string> fail)
    {
        var first = new Dictionary<int, int>();
        for (int i = 0; i < mailboxes.Count; i++)
        {
            MailboxSpec m = mailboxes[i];
            if (m.Kind != DoorbellKind.Uio || m.UioDevice is not int device) continue;
            if (!first.TryGetValue(device, out int f)) { first[device] = i; continue; }
            MailboxBlockKind mine = m.Block?.Kind ?? MailboxBlockKind.Uio, theirs = mailboxes[f].Block?.Kind ?? MailboxBlockKind.Uio;
            if (mine != theirs)
                fail($"mailboxes[{i}].block", $"'{m.Name}' is on uio{device} as '{mailboxes[f].Name}' is, whose block is '{RegionValidator.Kebab(theirs)}', not " +
                    $"'{RegionValidator.Kebab(mine)}'; one UIO device is one mailbox block");
        }
    }

    private static void PartsClaimedOnce(IReadOnlyList<MailboxSpec> mailboxes, Action<string, string> fail)
    {
        var seen = new Dictionary<string, string>();
        for (int i = 0; i < mailboxes.Count; i++)
        {
            MailboxSpec m = mailboxes[i];
            if (m.Block is not { } k) continue;
            string device = m.Kind == DoorbellKind.Uio ? $"uio{m.UioDevice}" : "the kernel's";
            foreach (string part in Parts(k))
                if (!seen.TryAdd($"{device} {part}", m.Name))
                    fail($"mailboxes[{i}].block", $"'{m.Name}' uses {part} of {device} {RegionValidator.Kebab(k.Kind)}, as '{seen[$"{device} {part}"]}' does; each channel is its own part of the block");
        }
    }

    private static IEnumerable<string> Parts(MailboxBlockSpec k) => k.Kind switch
    {
        MailboxBlockKind.Stm32Ipcc => [$"channel {k.Channel}"],
        MailboxBlockKind.ImxMu => [$"{RegionValidator.Kebab(k.Type ?? MuChannelType.Tx)} channel {k.Channel}"],
        MailboxBlockKind.OmapMailbox => [.. (k.RxFifo is int r ? [$"fifo {r}"] : Array.Empty<string>()), .. (k.TxFifo is int t ? [$"fifo {t}"] : Array.Empty<string>())],
        _ => [],
    };
}

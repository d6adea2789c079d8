namespace AmpCan.Remoteproc.Boards;

/// <summary>
/// A core's mailbox channels: each one's doorbell fields (as the board's doorbell has them), the registers a uio channel
/// needs, the notify ids it carries (ones the board's vdevs use, none carried twice the same way), a vring region for
/// the kicks to be about, and the board's doorbell being one of them.
/// </summary>
internal static class MailboxValidator
{
    /// <summary>Most channels one core has (STM32's IPCC has six, an i.MX MU four of each kind).</summary>
    public const int MaxMailboxes = 16;

    /// <summary>Throws through <paramref name="fail"/> at the first channel that is wrong.</summary>
    public static void Validate(BoardDescriptor b, Action<string, string> fail)
    {
        // Notify ids as the host hands them out, Linux's way: the table's vrings in order, the rpmsg vdev's two first,
        // then three for each CAN controller's virtio-can vdev.
        int vrings = RpmsgSpec.Vrings + CanSpec.VringsPerController * b.Can.Controllers.Count;
        if (b.Mailboxes is { } mailboxes)
        {
            if (mailboxes.Count == 0) fail("mailboxes", "must list at least one channel (a core whose kicks the kernel keeps has one of kind 'polling')");
            if (mailboxes.Count > MaxMailboxes) fail("mailboxes", $"{mailboxes.Count} channels; at most {MaxMailboxes}");
            for (int i = 0; i < mailboxes.Count; i++) Channel(b, mailboxes[i], $"mailboxes[{i}]", vrings, fail);
            BoardNames.Unique([.. mailboxes.Select(m => m.Name)], "mailboxes", "mailbox", fail);
            MailboxBlockValidator.Validate(mailboxes, fail);
            CarriedOnce(mailboxes, vrings, fail);
            if (!mailboxes.Any(m => m.ToDoorbell() == b.Doorbell))
                fail("doorbell", $"is not one of the mailboxes ({string.Join(", ", mailboxes.Select(m => m.Name))}); it is the older spelling of one " +
                    "channel (a simulated remote and older tools use it), so give it the fields of one of them");
        }
        if (!b.EffectiveRegions.Any(r => r.Has(RegionRole.Vrings)))
            fail(b.Mailboxes is null ? "doorbell" : "mailboxes[0]", "kicks announce vrings, but no region has the vrings role (regions[].roles)");
    }

    private static void Channel(BoardDescriptor b, MailboxSpec m, string at, int vrings, Action<string, string> fail)
    {
        BoardNames.Check(m.Name, $"{at}.name", fail);
        if (m.Kind == DoorbellKind.Uio)
        {
            // The board's single doorbell may leave these to their defaults (map 1 next to the memory's map 0); a channel
            // is usually a UIO device of its own, so it says which device, map and register.
            if (m.UioDevice is null) fail($"{at}.uioDevice", $"'{m.Name}' is a uio mailbox and needs the UIO device (/dev/uioN) whose interrupt it raises");
            if (m.MailboxMap is null) fail($"{at}.mailboxMap", $"'{m.Name}' is a uio mailbox and needs the UIO map holding its register (usually 0 for a mailbox's own UIO device)");
            if (m.MailboxOffset is null && (m.Block is null || m.Block.Kind == MailboxBlockKind.Uio))
                fail($"{at}.mailboxOffset", $"'{m.Name}' is a uio mailbox and needs the offset of its register in that map (or a block that says where its kick goes)");
            if (b.EffectiveRegions.FirstOrDefault(r => r.Backing.Kind == SharedMemoryKind.Uio && (r.Backing.UioDevice, r.Backing.UioMap) == (m.UioDevice, m.MailboxMap)) is { } memory)
                fail($"{at}.mailboxMap", $"uio{m.UioDevice} map {m.MailboxMap} is region '{memory.Name}''s memory, not a register map");
        }
        else
        {
            string kind = RegionValidator.Kebab(m.Kind);
            if (m.UioDevice is not null) fail($"{at}.uioDevice", $"is for kind 'uio'; '{m.Name}' is '{kind}'");
            if (m.MailboxMap is not null) fail($"{at}.mailboxMap", $"is for kind 'uio'; '{m.Name}' is '{kind}'");
            if (m.MailboxOffset is not null) fail($"{at}.mailboxOffset", $"is for kind 'uio'; '{m.Name}' is '{kind}'");
        }
        BoardValidator.DoorbellRules(m.ToDoorbell(), at, fail);
        if (m.NotifyIds is not { } ids) return;
        for (int k = 0; k < ids.Count; k++)
        {
            if (ids[k] < 0 || ids[k] >= vrings)
                fail($"{at}.notifyIds[{k}]", $"{ids[k]}: no vdev of this board can use it; its vdevs have {vrings} vrings (rpmsg {RpmsgSpec.Vrings}, " +
                    $"{CanSpec.VringsPerController} for each of {b.Can.Controllers.Count} CAN controllers), notify ids 0 to {vrings - 1}");
            if (ids.Take(k).Contains(ids[k])) fail($"{at}.notifyIds[{k}]", $"{ids[k]} is listed twice");
        }
    }

    // A kick for one vring going one way has one channel: two would leave the host guessing which to use or to wait on.
    private static void CarriedOnce(IReadOnlyList<MailboxSpec> mailboxes, int vrings, Action<string, string> fail)
    {
        foreach (MailboxDirection way in (MailboxDirection[])[MailboxDirection.ToRemote, MailboxDirection.FromRemote])
            for (int id = 0; id < vrings; id++)
            {
                int first = -1;
                for (int i = 0; i < mailboxes.Count; i++)
                {
                    MailboxSpec m = mailboxes[i];
                    if (m.Direction != MailboxDirection.Both && m.Direction != way || !m.Carries(id)) continue;
                    if (first < 0) { first = i; continue; }
                    fail($"mailboxes[{i}].notifyIds", $"'{m.Name}' carries notify id {id} {RegionValidator.Kebab(way)}, as '{mailboxes[first].Name}' does " +
                        "(absent notifyIds means all); give each channel its own ids, or an empty list for a control channel");
                }
            }
    }
}

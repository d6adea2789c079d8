namespace AmpCan.Remoteproc.Boards;

/// <summary>
/// What the host's runtime serves today, checked when the service loads a board (<see cref="BoardDescriptor.Load"/>):
/// a core it would misread (a resource table in an image nobody reads) or could not run (a simulated core behind
/// several interrupting mailboxes) is refused saying so, rather than waited for until a timeout. <see cref="BoardFile.Load"/>
/// reads such boards.
/// </summary>
internal static class ServedBoardCheck
{
    /// <summary>Throws a <see cref="BoardException"/> naming the first thing the host does not do yet.</summary>
    public static void Check(BoardDescriptor b, string source)
    {
        void Refuse(string field, string why) => throw new BoardException($"board file '{source}': {field}: {why}; the host does not serve this board yet");

        CoreSpec core = b.EffectiveCore;
        if (b.ResourceTable.InImage)
        {
            // The host finds the table in the image it loads (devmem-registers, or a simulated core given an image) or
            // in the image the kernel or a bootloader loaded (named by core.firmware); an external remote's image is unknown.
            if (core.Mechanism is CoreMechanism.External or CoreMechanism.SimulatedProcess)
                Refuse("resourceTable.inImage", $"the table is where the firmware image puts it, and a '{RegionValidator.Kebab(core.Mechanism)}' core's image is not known to the host");
            if (core.Mechanism is CoreMechanism.SysfsRemoteproc or CoreMechanism.AttachOnly && core.Firmware is null)
                Refuse("resourceTable.inImage", $"the table is where the firmware image puts it; with mechanism '{RegionValidator.Kebab(core.Mechanism)}' the host reads " +
                    "that place from the image the core runs, so core.firmware must name it");
        }
        if (core.Mechanism == CoreMechanism.Simulated && b.Mailboxes is { } mailboxes && (mailboxes.Count > 1 || mailboxes[0].NotifyIds is not null)
            && mailboxes.Any(m => m.Kind != DoorbellKind.Polling))
            Refuse("mailboxes", $"a simulated core has one doorbell, and this one kicks through {mailboxes.Count} channel(s) by notify id; give it one channel carrying every notify id, or only polling ones");
    }
}

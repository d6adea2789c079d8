namespace AmpCan.Remoteproc.Boards;

/// <summary>
/// What the host's runtime serves today, checked when the service loads a board (<see cref="BoardDescriptor.Load"/>):
/// a core it would misread (a resource table outside the shared memory) or could not start (a real core's mechanism) is
/// refused saying so, rather than waited for until a timeout. <see cref="BoardFile.Load"/> reads such boards.
/// </summary>
internal static class ServedBoardCheck
{
    /// <summary>Throws a <see cref="BoardException"/> naming the first thing the host does not do yet.</summary>
    public static void Check(BoardDescriptor b, string source)
    {
        void Refuse(string field, string why) => throw new BoardException($"board file '{source}': {field}: {why}; the host does not serve this board yet");

        ResourceTableSpec t = b.ResourceTable;
        if (t.Region is string region)
            Refuse("resourceTable.region", $"the table is in region '{region}', but the host reads it at resourceTable.offset in sharedMemory");
        if (t.InImage)
            Refuse("resourceTable.inImage", "the table is where the firmware image puts it, but the host reads it at resourceTable.offset in sharedMemory");
        if (b.Core?.Mechanism is CoreMechanism.SysfsRemoteproc or CoreMechanism.DevmemRegisters)
            Refuse("core.mechanism", $"'{RegionValidator.Kebab(b.Core.Mechanism)}' needs the host to load and start the core, which it does not do yet " +
                "(it serves simulated, simulated-process, attach-only and external cores)");
    }
}

using AmpCan.SharedMem;

namespace AmpCan.Remoteproc.Firmware;

/// <summary>A vdev entry as the image declares it (a copy: nothing here is live memory).</summary>
/// <param name="Index">Position in the table.</param>
/// <param name="Id">Virtio device id.</param>
/// <param name="Name">The id's name (<see cref="VirtioDeviceNames"/>).</param>
/// <param name="NotifyId">The vdev's own notify id.</param>
/// <param name="DeviceFeatures">dfeatures.</param>
/// <param name="ConfigLength">Bytes of config space after the vrings.</param>
/// <param name="Vrings">The vrings in order.</param>
public sealed record FirmwareVdev(int Index, uint Id, string Name, uint NotifyId, ulong DeviceFeatures, int ConfigLength, IReadOnlyList<VringResource> Vrings);

/// <summary>An image's <c>.resource_table</c>, parsed from the file's bytes and decoded entry by entry.</summary>
/// <param name="Location">Where the section is (file offset, device address, size).</param>
/// <param name="Version">The table's version word.</param>
/// <param name="EntryCount">The table's num.</param>
/// <param name="Vdevs">Virtio devices.</param>
/// <param name="Carveouts">Carveout and devmem entries.</param>
/// <param name="Traces">Trace buffers.</param>
/// <param name="Skipped">Entries of types the host does not handle (vendor types included).</param>
public sealed record FirmwareResourceTable(ResourceTableSection Location, uint Version, uint EntryCount, IReadOnlyList<FirmwareVdev> Vdevs,
    IReadOnlyList<CarveoutResource> Carveouts, IReadOnlyList<TraceResource> Traces, IReadOnlyList<SkippedResource> Skipped)
{
    /// <summary>Decodes the image's resource table, or returns null when it has no <c>.resource_table</c> section.</summary>
    /// <remarks>The bytes are copied into a sealed memfd so <see cref="ResourceTable.Parse"/> checks them exactly as it checks live memory.</remarks>
    /// <exception cref="FirmwareException">The section cannot hold a table, or the table is malformed (the message names the entry and field).</exception>
    public static FirmwareResourceTable? Decode(ElfImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        ResourceTableSection? location = ResourceTableSection.Find(image);
        if (location is null) return null;
        ReadOnlySpan<byte> bytes = image.SectionBytes(image.Sections[location.SectionIndex]).Span;
        using MappedRegion copy = MappedRegion.CreateMemfd(ResourceTableSection.SectionName, (ulong)bytes.Length, location.DeviceAddress);
        copy.Io.Write(0, bytes);
        try
        {
            ResourceTable table = ResourceTable.Parse(copy.Io);
            FirmwareVdev[] vdevs = [.. table.Vdevs.Select(v => new FirmwareVdev(v.Index, v.DeviceId, VirtioDeviceNames.Name(v.DeviceId), v.NotifyId,
                v.DeviceFeatures, v.ConfigLength, [.. Enumerable.Range(0, v.QueueCount).Select(v.Vring)]))];
            return new FirmwareResourceTable(location, copy.Io.ReadU32(0), copy.Io.ReadU32(4), vdevs, table.Carveouts, table.Traces, table.Skipped);
        }
        catch (ResourceTableException e)
        {
            throw new FirmwareException($"section {location.SectionIndex} ({ResourceTableSection.SectionName}): {e.Message}");
        }
    }
}

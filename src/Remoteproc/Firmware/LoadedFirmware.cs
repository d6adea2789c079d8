namespace AmpCan.Remoteproc.Firmware;

/// <summary>Where one PT_LOAD segment went.</summary>
/// <param name="SegmentIndex">The program header's index.</param>
/// <param name="DeviceAddress">p_paddr: the device address of its first byte.</param>
/// <param name="FileSize">Bytes copied from the file.</param>
/// <param name="MemorySize">Bytes in memory; those past <paramref name="FileSize"/> were zeroed.</param>
/// <param name="Region">The memory-map window it landed in.</param>
/// <param name="RegionOffset">Its offset in that window.</param>
public sealed record LoadedSegment(int SegmentIndex, ulong DeviceAddress, ulong FileSize, ulong MemorySize, string Region, ulong RegionOffset);

/// <summary>What <see cref="FirmwareLoader.Load"/> did: the boot address, the segments and the resource table's place.</summary>
/// <param name="Entry">e_entry, the address the remote boots at.</param>
/// <param name="Segments">The PT_LOAD segments copied, in program header order (those with p_memsz 0 are skipped).</param>
/// <param name="ResourceTable">The <c>.resource_table</c> section, or null when the image has none.</param>
public sealed record LoadedFirmware(ulong Entry, IReadOnlyList<LoadedSegment> Segments, ResourceTableSection? ResourceTable);

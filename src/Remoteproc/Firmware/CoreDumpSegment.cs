using AmpCan.SharedMem;

namespace AmpCan.Remoteproc.Firmware;

/// <summary>One piece of the remote's memory for a core dump: all of <paramref name="Memory"/>, at <paramref name="DeviceAddress"/>.</summary>
/// <param name="DeviceAddress">The remote's address of the first byte (p_vaddr and p_paddr in the dump).</param>
/// <param name="Memory">The bytes, read when the dump is written.</param>
public readonly record struct CoreDumpSegment(ulong DeviceAddress, IoRegion Memory);

using AmpCan.Remoteproc.Wire;

namespace AmpCan.Remoteproc.Firmware;

/// <summary>
/// Where an image's resource table is: Linux finds it by the section name <c>.resource_table</c> (remoteproc_elf_loader.c
/// find_table), takes its bytes from the file at sh_offset, and finds the loaded copy at sh_addr in device memory
/// (rproc_elf_find_loaded_rsc_table), where the host writes the table back before the remote starts.
/// </summary>
/// <param name="SectionIndex">The section's index.</param>
/// <param name="DeviceAddress">sh_addr: the loaded copy's device address.</param>
/// <param name="FileOffset">sh_offset: the table's bytes in the file.</param>
/// <param name="Size">sh_size.</param>
public sealed record ResourceTableSection(int SectionIndex, ulong DeviceAddress, ulong FileOffset, ulong Size)
{
    /// <summary>The section name Linux and OpenAMP look for.</summary>
    public const string SectionName = ".resource_table";

    /// <summary>The image's resource table section, or null when it has none; refuses one that cannot hold a table.</summary>
    /// <exception cref="FirmwareException">The section has no file bytes or is shorter than the table header (Linux: "header-less resource table").</exception>
    public static ResourceTableSection? Find(ElfImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        ElfSection? s = image.FindSection(SectionName);
        if (s is null) return null;
        if (!s.HasFileBytes)
            throw new FirmwareException($"section {s.Index} ({SectionName}): sh_type {s.Type} has no bytes in the file, so it holds no table");
        if (s.Size < ResourceTableLayout.HeaderSize)
            throw new FirmwareException($"section {s.Index} ({SectionName}): sh_size 0x{s.Size:x} is shorter than the {ResourceTableLayout.HeaderSize}-byte table header");
        return new ResourceTableSection(s.Index, s.Address, s.Offset, s.Size);
    }
}

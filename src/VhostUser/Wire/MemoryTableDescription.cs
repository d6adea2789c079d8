using System.Buffers.Binary;

namespace AmpCan.VhostUser.Wire;

/// <summary>
/// The memory regions description of SET_MEM_TABLE: u32 region count @0, u32 padding @4, then that many 32-byte
/// regions. QEMU sends only the regions in use (8 + 32 × count bytes), not the whole 8-entry array.
/// </summary>
public static class MemoryTableDescription
{
    /// <summary>VHOST_MEMORY_BASELINE_NREGIONS: the most regions one table holds.</summary>
    public const int MaxRegions = 8;

    /// <summary>Bytes before the first region.</summary>
    public const int HeaderLength = 8;

    /// <summary>Payload bytes of a table of <paramref name="regions"/> regions.</summary>
    public static int LengthOf(int regions) => HeaderLength + regions * MemoryRegionDescription.Length;

    /// <summary>The region count field.</summary>
    public static uint ReadCount(ReadOnlySpan<byte> payload) => BinaryPrimitives.ReadUInt32LittleEndian(payload);

    /// <summary>Region <paramref name="index"/> of the table.</summary>
    public static MemoryRegionDescription ReadRegion(ReadOnlySpan<byte> payload, int index) =>
        MemoryRegionDescription.Read(payload.Slice(HeaderLength + index * MemoryRegionDescription.Length, MemoryRegionDescription.Length));

    /// <summary>Writes a whole table (count, padding 0, regions) and returns its length.</summary>
    public static int Write(Span<byte> payload, ReadOnlySpan<MemoryRegionDescription> regions)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(payload, (uint)regions.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(payload[4..], 0);
        for (int i = 0; i < regions.Length; i++)
            regions[i].Write(payload.Slice(HeaderLength + i * MemoryRegionDescription.Length, MemoryRegionDescription.Length));
        return LengthOf(regions.Length);
    }
}

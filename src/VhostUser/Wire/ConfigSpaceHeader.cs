using System.Buffers.Binary;

namespace AmpCan.VhostUser.Wire;

/// <summary>
/// The virtio device config space message of GET_CONFIG/SET_CONFIG: u32 offset @0, u32 size @4, u32 flags @8, then
/// size bytes of config space.
/// </summary>
/// <param name="Offset">Offset into the device's config space.</param>
/// <param name="Size">Bytes of config space that follow.</param>
/// <param name="Flags">0 a driver write of a writable field, 1 live migration.</param>
public readonly record struct ConfigSpaceHeader(uint Offset, uint Size, uint Flags)
{
    /// <summary>Bytes before the data.</summary>
    public const int Length = 12;

    /// <summary>VHOST_SET_CONFIG_TYPE_MIGRATION: the front end restores config space (may write read-only fields).</summary>
    public const uint MigrationFlag = 1;

    /// <summary>Reads the 12 wire bytes.</summary>
    public static ConfigSpaceHeader Read(ReadOnlySpan<byte> bytes) => new(
        BinaryPrimitives.ReadUInt32LittleEndian(bytes),
        BinaryPrimitives.ReadUInt32LittleEndian(bytes[4..]),
        BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]));

    /// <summary>Writes the 12 wire bytes.</summary>
    public void Write(Span<byte> bytes)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, Offset);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes[4..], Size);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes[8..], Flags);
    }
}

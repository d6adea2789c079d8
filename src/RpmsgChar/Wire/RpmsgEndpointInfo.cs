using System.Buffers.Binary;
using System.Text;

namespace AmpCan.RpmsgChar.Wire;

/// <summary>
/// <c>struct rpmsg_endpoint_info</c> of <c>include/uapi/linux/rpmsg.h</c> (40 bytes): char name[32] @0, __u32 src @32,
/// __u32 dst @36, in the host's byte order (little endian on every SoC AmpCan serves).
/// </summary>
/// <param name="Name">Service name; rpmsg_ctrl forces its 32nd byte to NUL, so at most 31 bytes count.</param>
/// <param name="Source">Local address, or RPMSG_ADDR_ANY (0xFFFFFFFF).</param>
/// <param name="Destination">Remote address, or RPMSG_ADDR_ANY.</param>
public readonly record struct RpmsgEndpointInfo(string Name, uint Source, uint Destination)
{
    /// <summary>Bytes on the wire.</summary>
    public const int Size = 40;

    /// <summary>Bytes of the name field.</summary>
    public const int NameSize = 32;

    /// <summary>
    /// Reads the 40 bytes as rpmsg_ctrldev_ioctl takes them: the name up to its first NUL within the first 31 bytes
    /// (byte 31 is overwritten with NUL), bytes that are not UTF-8 kept as replacement characters.
    /// </summary>
    public static RpmsgEndpointInfo Read(ReadOnlySpan<byte> b)
    {
        if (b.Length < Size) throw new ArgumentException($"rpmsg_endpoint_info is {Size} bytes, got {b.Length}", nameof(b));
        ReadOnlySpan<byte> name = b[..(NameSize - 1)];
        int nul = name.IndexOf((byte)0);
        if (nul >= 0) name = name[..nul];
        return new(Encoding.UTF8.GetString(name),
            BinaryPrimitives.ReadUInt32LittleEndian(b[32..]), BinaryPrimitives.ReadUInt32LittleEndian(b[36..]));
    }

    /// <summary>Writes the 40 bytes (the name NUL-padded, cut to 31 bytes).</summary>
    public void Write(Span<byte> b)
    {
        b[..Size].Clear();
        int n = Encoding.UTF8.GetBytes(Name.AsSpan(), b[..(NameSize - 1)]);
        _ = n;
        BinaryPrimitives.WriteUInt32LittleEndian(b[32..], Source);
        BinaryPrimitives.WriteUInt32LittleEndian(b[36..], Destination);
    }
}

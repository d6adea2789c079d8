using System.Buffers.Binary;

namespace AmpCan.VhostUser.Wire;

/// <summary>Header flag bits (vhost-user.rst, "Header").</summary>
[Flags]
public enum VhostUserHeaderFlags : uint
{
    /// <summary>No flags (an invalid header: the version is missing).</summary>
    None = 0,
    /// <summary>Version 1, in the low two bits: the only version.</summary>
    Version1 = 0x1,
    /// <summary>The mask of the version bits.</summary>
    VersionMask = 0x3,
    /// <summary>Bit 2: this message is a reply (every back-end reply carries it).</summary>
    Reply = 0x4,
    /// <summary>Bit 3: the sender wants an acknowledgement (REPLY_ACK).</summary>
    NeedReply = 0x8,
}

/// <summary>
/// The 12-byte message header: u32 request @0, u32 flags @4, u32 payload size @8. The spec says native byte order;
/// every host this runs on is little-endian, and the wire is read as such.
/// </summary>
/// <param name="Request">The request code (front-end or back-end request, by channel).</param>
/// <param name="Flags">Version, reply and need-reply bits.</param>
/// <param name="Size">Bytes of payload that follow.</param>
public readonly record struct VhostUserHeader(uint Request, VhostUserHeaderFlags Flags, uint Size)
{
    /// <summary>Bytes of a header.</summary>
    public const int Length = 12;

    /// <summary>The version bits.</summary>
    public uint Version => (uint)(Flags & VhostUserHeaderFlags.VersionMask);

    /// <summary>True when the sender set the need-reply bit.</summary>
    public bool NeedsReply => (Flags & VhostUserHeaderFlags.NeedReply) != 0;

    /// <summary>The header of a back-end reply to <paramref name="request"/> with <paramref name="size"/> payload bytes.</summary>
    public static VhostUserHeader ReplyTo(uint request, int size) => new(request, VhostUserHeaderFlags.Version1 | VhostUserHeaderFlags.Reply, (uint)size);

    /// <summary>Reads a header from its 12 wire bytes.</summary>
    public static VhostUserHeader Read(ReadOnlySpan<byte> bytes) => new(
        BinaryPrimitives.ReadUInt32LittleEndian(bytes),
        (VhostUserHeaderFlags)BinaryPrimitives.ReadUInt32LittleEndian(bytes[4..]),
        BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]));

    /// <summary>Writes the 12 wire bytes.</summary>
    public void Write(Span<byte> bytes)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, Request);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes[4..], (uint)Flags);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes[8..], Size);
    }
}

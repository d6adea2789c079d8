using System.Buffers.Binary;

namespace AmpCan.Fuse.Wire;

/// <summary>
/// <c>struct fuse_in_header</c> (40 bytes): u32 len @0, u32 opcode @4, u64 unique @8, u64 nodeid @16, u32 uid @24,
/// u32 gid @28, u32 pid @32, u16 total_extlen @36 (7.38; padding before), u16 padding @38.
/// </summary>
/// <param name="Length">Bytes of the whole request, header included.</param>
/// <param name="Opcode">The operation (<see cref="FuseOpcode"/>).</param>
/// <param name="Unique">The request's id, echoed in the reply.</param>
/// <param name="NodeId">The node the operation is on.</param>
/// <param name="Uid">Caller's user id.</param>
/// <param name="Gid">Caller's group id.</param>
/// <param name="Pid">Caller's thread group id.</param>
/// <param name="TotalExtLength">Extension bytes at the end, in 8-byte units (0 unless asked for at INIT).</param>
public readonly record struct FuseInHeader(
    uint Length, uint Opcode, ulong Unique, ulong NodeId, uint Uid, uint Gid, uint Pid, ushort TotalExtLength)
{
    /// <summary>Bytes in the header.</summary>
    public const int Size = 40;

    /// <summary>Reads the header from its 40 wire bytes.</summary>
    public static FuseInHeader Read(ReadOnlySpan<byte> b) => new(
        BinaryPrimitives.ReadUInt32LittleEndian(b),
        BinaryPrimitives.ReadUInt32LittleEndian(b[4..]),
        BinaryPrimitives.ReadUInt64LittleEndian(b[8..]),
        BinaryPrimitives.ReadUInt64LittleEndian(b[16..]),
        BinaryPrimitives.ReadUInt32LittleEndian(b[24..]),
        BinaryPrimitives.ReadUInt32LittleEndian(b[28..]),
        BinaryPrimitives.ReadUInt32LittleEndian(b[32..]),
        BinaryPrimitives.ReadUInt16LittleEndian(b[36..Size]));

    /// <summary>Writes the 40 wire bytes (for tests and for a kernel stand-in).</summary>
    public void Write(Span<byte> b)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(b, Length);
        BinaryPrimitives.WriteUInt32LittleEndian(b[4..], Opcode);
        BinaryPrimitives.WriteUInt64LittleEndian(b[8..], Unique);
        BinaryPrimitives.WriteUInt64LittleEndian(b[16..], NodeId);
        BinaryPrimitives.WriteUInt32LittleEndian(b[24..], Uid);
        BinaryPrimitives.WriteUInt32LittleEndian(b[28..], Gid);
        BinaryPrimitives.WriteUInt32LittleEndian(b[32..], Pid);
        BinaryPrimitives.WriteUInt16LittleEndian(b[36..], TotalExtLength);
        BinaryPrimitives.WriteUInt16LittleEndian(b[38..Size], 0);
    }
}

using System.Buffers.Binary;

namespace AmpCan.Fuse.Wire;

/// <summary>
/// <c>struct fuse_init_in</c>: u32 major @0, u32 minor @4, u32 max_readahead @8, u32 flags @12 (16 bytes before 7.36),
/// then u32 flags2 @16 and u32 unused[11] (64 bytes from 7.36).
/// </summary>
/// <param name="Major">Kernel's major version.</param>
/// <param name="Minor">Kernel's minor version.</param>
/// <param name="MaxReadahead">Kernel's readahead limit.</param>
/// <param name="Flags">FUSE_* capabilities the kernel offers.</param>
/// <param name="Flags2">Upper capability bits (7.36+, valid with FUSE_INIT_EXT), else 0.</param>
public readonly record struct FuseInitIn(uint Major, uint Minor, uint MaxReadahead, uint Flags, uint Flags2)
{
    /// <summary>Bytes a kernel before 7.36 sends.</summary>
    public const int CompatSize = 16;

    /// <summary>Bytes a 7.36+ kernel sends.</summary>
    public const int Size = 64;

    /// <summary>Reads the request body: 16 bytes at least; flags2 only when the body is the 64-byte form.</summary>
    public static FuseInitIn Read(ReadOnlySpan<byte> b)
    {
        if (b.Length < CompatSize) throw new ArgumentException($"fuse_init_in of {b.Length} bytes, at least {CompatSize} needed");
        return new(
            BinaryPrimitives.ReadUInt32LittleEndian(b),
            BinaryPrimitives.ReadUInt32LittleEndian(b[4..]),
            BinaryPrimitives.ReadUInt32LittleEndian(b[8..]),
            BinaryPrimitives.ReadUInt32LittleEndian(b[12..]),
            b.Length >= Size ? BinaryPrimitives.ReadUInt32LittleEndian(b[16..]) : 0);
    }

    /// <summary>Writes the 64-byte form (unused words zeroed).</summary>
    public void Write(Span<byte> b)
    {
        b[..Size].Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(b, Major);
        BinaryPrimitives.WriteUInt32LittleEndian(b[4..], Minor);
        BinaryPrimitives.WriteUInt32LittleEndian(b[8..], MaxReadahead);
        BinaryPrimitives.WriteUInt32LittleEndian(b[12..], Flags);
        BinaryPrimitives.WriteUInt32LittleEndian(b[16..], Flags2);
    }
}

/// <summary>
/// <c>struct fuse_init_out</c> (64 bytes): u32 major @0, u32 minor @4, u32 max_readahead @8, u32 flags @12,
/// u16 max_background @16, u16 congestion_threshold @18, u32 max_write @20, u32 time_gran @24, u16 max_pages @28,
/// u16 map_alignment @30, u32 flags2 @32, u32 max_stack_depth @36 (7.40; unused before), u32 unused[6] @40.
/// </summary>
/// <param name="Major">Our major version.</param>
/// <param name="Minor">The minor version both sides use.</param>
/// <param name="MaxReadahead">Readahead limit (irrelevant with direct I/O).</param>
/// <param name="Flags">FUSE_* capabilities we take (a subset of those offered).</param>
/// <param name="MaxBackground">Background request limit (0: kernel default).</param>
/// <param name="CongestionThreshold">Congestion threshold (0: kernel default).</param>
/// <param name="MaxWrite">Largest WRITE payload the server accepts in one request.</param>
/// <param name="TimeGranularity">Timestamp granularity in ns.</param>
/// <param name="MaxPages">Pages per request (with FUSE_MAX_PAGES).</param>
/// <param name="Flags2">Upper capability bits (with FUSE_INIT_EXT).</param>
public readonly record struct FuseInitOut(
    uint Major, uint Minor, uint MaxReadahead, uint Flags, ushort MaxBackground, ushort CongestionThreshold,
    uint MaxWrite, uint TimeGranularity, ushort MaxPages, uint Flags2)
{
    /// <summary>Bytes in the reply.</summary>
    public const int Size = 64;

    /// <summary>Reads the 64 wire bytes.</summary>
    public static FuseInitOut Read(ReadOnlySpan<byte> b) => new(
        BinaryPrimitives.ReadUInt32LittleEndian(b),
        BinaryPrimitives.ReadUInt32LittleEndian(b[4..]),
        BinaryPrimitives.ReadUInt32LittleEndian(b[8..]),
        BinaryPrimitives.ReadUInt32LittleEndian(b[12..]),
        BinaryPrimitives.ReadUInt16LittleEndian(b[16..]),
        BinaryPrimitives.ReadUInt16LittleEndian(b[18..]),
        BinaryPrimitives.ReadUInt32LittleEndian(b[20..]),
        BinaryPrimitives.ReadUInt32LittleEndian(b[24..]),
        BinaryPrimitives.ReadUInt16LittleEndian(b[28..]),
        BinaryPrimitives.ReadUInt32LittleEndian(b[32..Size]));

    /// <summary>Writes the 64 wire bytes (map_alignment, max_stack_depth and unused zeroed).</summary>
    public void Write(Span<byte> b)
    {
        b[..Size].Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(b, Major);
        BinaryPrimitives.WriteUInt32LittleEndian(b[4..], Minor);
        BinaryPrimitives.WriteUInt32LittleEndian(b[8..], MaxReadahead);
        BinaryPrimitives.WriteUInt32LittleEndian(b[12..], Flags);
        BinaryPrimitives.WriteUInt16LittleEndian(b[16..], MaxBackground);
        BinaryPrimitives.WriteUInt16LittleEndian(b[18..], CongestionThreshold);
        BinaryPrimitives.WriteUInt32LittleEndian(b[20..], MaxWrite);
        BinaryPrimitives.WriteUInt32LittleEndian(b[24..], TimeGranularity);
        BinaryPrimitives.WriteUInt16LittleEndian(b[28..], MaxPages);
        BinaryPrimitives.WriteUInt32LittleEndian(b[32..], Flags2);
    }
}

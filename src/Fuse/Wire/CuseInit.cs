using System.Buffers.Binary;

namespace AmpCan.Fuse.Wire;

/// <summary><c>struct cuse_init_in</c> (16 bytes): u32 major @0, u32 minor @4, u32 unused @8, u32 flags @12.</summary>
/// <param name="Major">Kernel's major version.</param>
/// <param name="Minor">Kernel's minor version.</param>
/// <param name="Flags">CUSE_* capabilities offered.</param>
public readonly record struct CuseInitIn(uint Major, uint Minor, uint Flags)
{
    /// <summary>Bytes in the request body.</summary>
    public const int Size = 16;

    /// <summary>Reads the 16 wire bytes.</summary>
    public static CuseInitIn Read(ReadOnlySpan<byte> b) => new(
        BinaryPrimitives.ReadUInt32LittleEndian(b),
        BinaryPrimitives.ReadUInt32LittleEndian(b[4..]),
        BinaryPrimitives.ReadUInt32LittleEndian(b[12..Size]));
}

/// <summary>
/// <c>struct cuse_init_out</c> (72 bytes): u32 major @0, u32 minor @4, u32 unused @8, u32 flags @12, u32 max_read @16,
/// u32 max_write @20, u32 dev_major @24, u32 dev_minor @28, u32 spare[10] @32; followed on the wire by the device
/// info strings ("DEVNAME=name\0").
/// </summary>
/// <param name="Major">Our major version.</param>
/// <param name="Minor">The minor version both sides use.</param>
/// <param name="Flags">CUSE_* capabilities taken.</param>
/// <param name="MaxRead">Largest READ the server answers.</param>
/// <param name="MaxWrite">Largest WRITE payload the server accepts.</param>
/// <param name="DeviceMajor">Device major wanted (0: CUSE allocates).</param>
/// <param name="DeviceMinor">Device minor wanted.</param>
public readonly record struct CuseInitOut(
    uint Major, uint Minor, uint Flags, uint MaxRead, uint MaxWrite, uint DeviceMajor, uint DeviceMinor)
{
    /// <summary>Bytes in the fixed part of the reply.</summary>
    public const int Size = 72;

    /// <summary>Writes the 72 wire bytes (unused and spare zeroed).</summary>
    public void Write(Span<byte> b)
    {
        b[..Size].Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(b, Major);
        BinaryPrimitives.WriteUInt32LittleEndian(b[4..], Minor);
        BinaryPrimitives.WriteUInt32LittleEndian(b[12..], Flags);
        BinaryPrimitives.WriteUInt32LittleEndian(b[16..], MaxRead);
        BinaryPrimitives.WriteUInt32LittleEndian(b[20..], MaxWrite);
        BinaryPrimitives.WriteUInt32LittleEndian(b[24..], DeviceMajor);
        BinaryPrimitives.WriteUInt32LittleEndian(b[28..], DeviceMinor);
    }
}

using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace AmpCan.Vring.Wire;

/// <summary><c>struct virtq_used_elem</c>: le32 id @0 (head of the chain), le32 len @4 (bytes written); 8 bytes.</summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
public readonly struct VirtqUsedElement
{
    /// <summary>Bytes per element.</summary>
    public const int Size = 8;

    [FieldOffset(0)] private readonly uint _id;
    [FieldOffset(4)] private readonly uint _len;

    /// <summary>Creates an element from host-order values.</summary>
    public VirtqUsedElement(uint id, uint length)
    {
        _id = BitConverter.IsLittleEndian ? id : BinaryPrimitives.ReverseEndianness(id);
        _len = BitConverter.IsLittleEndian ? length : BinaryPrimitives.ReverseEndianness(length);
    }

    /// <summary>Head index of the used chain.</summary>
    public uint Id => BitConverter.IsLittleEndian ? _id : BinaryPrimitives.ReverseEndianness(_id);

    /// <summary>Bytes the device wrote into the chain's writable part.</summary>
    public uint Length => BitConverter.IsLittleEndian ? _len : BinaryPrimitives.ReverseEndianness(_len);
}

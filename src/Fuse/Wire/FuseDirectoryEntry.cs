using System.Buffers.Binary;
using System.Text;

namespace AmpCan.Fuse.Wire;

/// <summary>
/// <c>struct fuse_dirent</c> as READDIR answers carry them: u64 ino @0, u64 off @8 (the offset to resume after this
/// entry), u32 namelen @16, u32 type @20 (DT_* as in dirent.h), the name without NUL @24, padded to 8 bytes.
/// </summary>
public static class FuseDirectoryEntry
{
    /// <summary>DT_DIR.</summary>
    public const uint Directory = 4;
    /// <summary>DT_REG.</summary>
    public const uint RegularFile = 8;
    /// <summary>Bytes before the name.</summary>
    public const int HeaderSize = 24;

    /// <summary>Bytes one entry named <paramref name="name"/> takes (FUSE_DIRENT_SIZE).</summary>
    public static int SizeOf(string name) => (HeaderSize + Encoding.UTF8.GetByteCount(name) + 7) & ~7;

    /// <summary>Writes one entry at the start of <paramref name="b"/>: the bytes used, or 0 when it does not fit (the answer ends before it).</summary>
    public static int Write(Span<byte> b, ulong inode, ulong nextOffset, uint type, string name)
    {
        int size = SizeOf(name);
        if (size > b.Length) return 0;
        b[..size].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(b, inode);
        BinaryPrimitives.WriteUInt64LittleEndian(b[8..], nextOffset);
        int n = Encoding.UTF8.GetBytes(name, b[HeaderSize..]);
        BinaryPrimitives.WriteUInt32LittleEndian(b[16..], (uint)n);
        BinaryPrimitives.WriteUInt32LittleEndian(b[20..], type);
        return size;
    }
}

using System.Buffers.Binary;
using System.Text;

namespace AmpCan.Rpmsg.Wire;

/// <summary>Name-service flags (<c>enum rpmsg_ns_flags</c>).</summary>
public enum NameServiceFlags : uint
{
    /// <summary>RPMSG_NS_CREATE: a service appeared.</summary>
    Create = 0,
    /// <summary>RPMSG_NS_DESTROY: a service went away.</summary>
    Destroy = 1,
}

/// <summary>Why a name-service message was refused.</summary>
public enum NameServiceFault
{
    /// <summary>The message is well formed.</summary>
    None,
    /// <summary>The payload is not exactly 40 bytes.</summary>
    WrongLength,
    /// <summary>The name is empty.</summary>
    EmptyName,
    /// <summary>The announced address is RPMSG_ADDR_ANY.</summary>
    InvalidAddress,
}

/// <summary>
/// <c>struct rpmsg_ns_msg</c> (packed, 40 bytes): char name[32] @0, u32 addr @32, u32 flags @36; sent to address 53.
/// </summary>
/// <param name="Name">Service name (at most 31 bytes, NUL-terminated on the wire).</param>
/// <param name="Address">The announcing endpoint's address.</param>
/// <param name="Flags">Create or destroy (Linux tests only bit 0).</param>
public readonly record struct NameServiceMessage(string Name, uint Address, NameServiceFlags Flags)
{
    /// <summary>Bytes in the message.</summary>
    public const int Size = 40;

    /// <summary>Bytes in the name field, including the terminator.</summary>
    public const int NameSize = 32;

    /// <summary>Writes the 40 wire bytes; the name must fit in 31 UTF-8 bytes.</summary>
    public void Write(Span<byte> b)
    {
        b[..NameSize].Clear();
        if (Encoding.UTF8.GetByteCount(Name) > NameSize - 1)
            throw new ArgumentException($"service name '{Name}' is longer than {NameSize - 1} bytes");
        Encoding.UTF8.GetBytes(Name, b);
        BinaryPrimitives.WriteUInt32LittleEndian(b[32..], Address);
        BinaryPrimitives.WriteUInt32LittleEndian(b[36..], (uint)Flags);
    }

    /// <summary>
    /// Parses and validates a received message; on a fault <paramref name="message"/> is default. A name filling all
    /// 32 bytes without a terminator is cut to 31, as Linux's rpmsg_ns.c does ("don't trust the remote processor for
    /// null terminating the name").
    /// </summary>
    public static NameServiceFault TryRead(ReadOnlySpan<byte> b, out NameServiceMessage message)
    {
        message = default;
        if (b.Length != Size) return NameServiceFault.WrongLength;
        int nul = b[..(NameSize - 1)].IndexOf((byte)0);
        if (nul < 0) nul = NameSize - 1;
        if (nul == 0) return NameServiceFault.EmptyName;
        uint addr = BinaryPrimitives.ReadUInt32LittleEndian(b[32..]);
        if (addr == RpmsgAddress.Any) return NameServiceFault.InvalidAddress;
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(b[36..]);
        message = new NameServiceMessage(Encoding.UTF8.GetString(b[..nul]), addr,
            (flags & (uint)NameServiceFlags.Destroy) != 0 ? NameServiceFlags.Destroy : NameServiceFlags.Create);
        return NameServiceFault.None;
    }
}

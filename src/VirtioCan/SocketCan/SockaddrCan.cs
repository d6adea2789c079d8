using System.Buffers.Binary;

namespace AmpCan.VirtioCan.SocketCan;

/// <summary>
/// <c>struct sockaddr_can</c> for binding a raw socket to an interface: le16 can_family (AF_CAN) @0, 2 bytes of padding,
/// s32 can_ifindex @4 (0: every CAN interface), then the 16-byte protocol union @8 (unused by CAN_RAW, zero): 24 bytes.
/// </summary>
public static class SockaddrCan
{
    /// <summary>Writes the address of interface <paramref name="interfaceIndex"/> into the first 24 bytes of <paramref name="destination"/>.</summary>
    public static void Write(Span<byte> destination, int interfaceIndex)
    {
        if (destination.Length < SocketCanConstants.SockaddrSize)
            throw new ArgumentException($"a sockaddr_can takes {SocketCanConstants.SockaddrSize} bytes", nameof(destination));
        destination[..SocketCanConstants.SockaddrSize].Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(destination, SocketCanConstants.AddressFamily);
        BinaryPrimitives.WriteInt32LittleEndian(destination[4..], interfaceIndex);
    }
}

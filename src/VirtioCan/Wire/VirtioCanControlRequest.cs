using System.Buffers.Binary;

namespace AmpCan.VirtioCan.Wire;

/// <summary><c>struct virtio_can_control_out</c>: the device-readable part of a Controlq request, <c>le16 msg_type</c>.</summary>
/// <param name="MessageType">START (0x0201) or STOP (0x0202); other values are kept as read.</param>
public readonly record struct VirtioCanControlRequest(VirtioCanMessageType MessageType)
{
    /// <summary>Bytes in the request.</summary>
    public const int Size = 2;

    /// <summary>Reads a request from the first 2 bytes of <paramref name="source"/>; false when there are fewer.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out VirtioCanControlRequest request)
    {
        if (source.Length < Size)
        {
            request = default;
            return false;
        }
        request = new VirtioCanControlRequest((VirtioCanMessageType)BinaryPrimitives.ReadUInt16LittleEndian(source));
        return true;
    }

    /// <summary>Writes the 2 request bytes at the start of <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentException">The destination is shorter than 2 bytes.</exception>
    public void Write(Span<byte> destination)
    {
        if (destination.Length < Size)
            throw new ArgumentException($"a virtio-can control request needs {Size} bytes, the buffer has {destination.Length}", nameof(destination));
        BinaryPrimitives.WriteUInt16LittleEndian(destination, (ushort)MessageType);
    }
}

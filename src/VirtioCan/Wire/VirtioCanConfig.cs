using System.Buffers.Binary;

namespace AmpCan.VirtioCan.Wire;

/// <summary><c>struct virtio_can_config</c>: the 2-byte config space, <c>le16 status</c>, read-only for the driver.</summary>
/// <param name="Status">Controller status bits; only <see cref="StatusBusOff"/> is defined.</param>
public readonly record struct VirtioCanConfig(ushort Status)
{
    /// <summary>Bytes of config space.</summary>
    public const int Size = 2;

    /// <summary>
    /// <c>VIRTIO_CAN_S_CTRL_BUSOFF</c> = bit 0: the controller went from started to stopped on its own, by bus-off.
    /// (vhost-device-can uses 2, which the spec and the Linux header contradict.)
    /// </summary>
    public const ushort StatusBusOff = 1 << 0;

    /// <summary>Whether the bus-off bit is set.</summary>
    public bool IsBusOff => (Status & StatusBusOff) != 0;

    /// <summary>Reads the config from the first 2 bytes of <paramref name="source"/>; false when there are fewer.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out VirtioCanConfig config)
    {
        if (source.Length < Size)
        {
            config = default;
            return false;
        }
        config = new VirtioCanConfig(BinaryPrimitives.ReadUInt16LittleEndian(source));
        return true;
    }

    /// <summary>Writes the 2 config bytes at the start of <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentException">The destination is shorter than 2 bytes.</exception>
    public void Write(Span<byte> destination)
    {
        if (destination.Length < Size)
            throw new ArgumentException($"the virtio-can config needs {Size} bytes, the buffer has {destination.Length}", nameof(destination));
        BinaryPrimitives.WriteUInt16LittleEndian(destination, Status);
    }
}

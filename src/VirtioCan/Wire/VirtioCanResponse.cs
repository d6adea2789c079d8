namespace AmpCan.VirtioCan.Wire;

/// <summary>
/// The one device-writable byte that answers a request: <c>struct virtio_can_tx_in</c> on the Txq and
/// <c>struct virtio_can_control_in</c> on the Controlq (same layout, <c>u8 result</c>).
/// </summary>
/// <param name="Result">The outcome, kept as read (a value other than 0 or 1 is possible from a peer).</param>
public readonly record struct VirtioCanResponse(VirtioCanResult Result)
{
    /// <summary>Bytes in the response.</summary>
    public const int Size = 1;

    /// <summary>Whether the request succeeded; any value other than OK counts as NOT_OK, as the spec says.</summary>
    public bool IsOk => Result == VirtioCanResult.Ok;

    /// <summary>Reads the response byte; false when <paramref name="source"/> is empty (Linux treats that as NOT_OK).</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out VirtioCanResponse response)
    {
        if (source.IsEmpty)
        {
            response = default;
            return false;
        }
        response = new VirtioCanResponse((VirtioCanResult)source[0]);
        return true;
    }

    /// <summary>Writes the response byte at the start of <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentException">The destination is empty.</exception>
    public void Write(Span<byte> destination)
    {
        if (destination.IsEmpty)
            throw new ArgumentException("a virtio-can response needs 1 byte, the buffer has none", nameof(destination));
        destination[0] = (byte)Result;
    }
}

using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace AmpCan.VirtioCan;

/// <summary>What kind of frame a <see cref="CanFrame"/> is, beyond its identifier.</summary>
[Flags]
public enum CanFrameKind : byte
{
    /// <summary>A classic data frame with an 11-bit identifier.</summary>
    None = 0,
    /// <summary>A 29-bit identifier.</summary>
    Extended = 1,
    /// <summary>A remote transmission request (classic only): no data, <see cref="CanFrame.Length"/> is the requested DLC's length.</summary>
    Remote = 2,
    /// <summary>A CAN FD frame.</summary>
    Fd = 4,
    /// <summary>CAN FD bit rate switch (SocketCAN's CANFD_BRS; virtio-can has no such flag).</summary>
    BitRateSwitch = 8,
    /// <summary>CAN FD error state indicator (SocketCAN's CANFD_ESI; virtio-can has no such flag).</summary>
    ErrorStateIndicator = 16,
    /// <summary>An error frame a controller reports (SocketCAN's CAN_ERR_FLAG): the identifier holds its error classes.</summary>
    Error = 32,
    /// <summary>
    /// Not a frame from another member but our own coming back once the bus carried it (SocketCAN's MSG_CONFIRM):
    /// the confirmation a late transmit acknowledgement waits for.
    /// </summary>
    Echo = 64,
    /// <summary>
    /// With <see cref="Echo"/>: the bus gave up on this frame of ours (its echo will never come: the interface went
    /// away, or the kernel dropped it and nothing showed the frame left), so whoever waits for its confirmation fails it.
    /// </summary>
    Lost = 128,
}

/// <summary>Up to 64 data bytes, inline (no allocation per frame).</summary>
[InlineArray(CanFrame.MaxLength)]
public struct CanFrameData
{
    private byte _first;
}

/// <summary>
/// One CAN or CAN FD frame as every back end and the device exchange it: identifier without flag bits, kind, length,
/// data inline. A mutable value: filled in place, copied by value, never allocated.
/// </summary>
public struct CanFrame
{
    /// <summary>The most data bytes of any frame (CAN FD).</summary>
    public const int MaxLength = 64;

    /// <summary>The 11- or 29-bit identifier (for an error frame, its error classes).</summary>
    public uint Id;

    /// <summary>What kind of frame this is.</summary>
    public CanFrameKind Kind;

    /// <summary>Data bytes (for a remote request: the requested length; no data travels).</summary>
    public byte Length;

    /// <summary>The data, of which the first <see cref="Length"/> bytes count (none for a remote request).</summary>
    public CanFrameData Data;

    /// <summary>The frame's data bytes, in place (empty for a remote request).</summary>
    [UnscopedRef]
    public Span<byte> Payload => ((Span<byte>)Data)[..((Kind & CanFrameKind.Remote) != 0 ? 0 : Math.Min((int)Length, MaxLength))];

    /// <summary>True for a 29-bit identifier.</summary>
    public readonly bool IsExtended => (Kind & CanFrameKind.Extended) != 0;

    /// <summary>True for a CAN FD frame.</summary>
    public readonly bool IsFd => (Kind & CanFrameKind.Fd) != 0;

    /// <summary>True for a remote transmission request.</summary>
    public readonly bool IsRemote => (Kind & CanFrameKind.Remote) != 0;

    /// <summary>True for a controller's error frame.</summary>
    public readonly bool IsError => (Kind & CanFrameKind.Error) != 0;

    /// <summary>True for the echo of a frame this member sent.</summary>
    public readonly bool IsEcho => (Kind & CanFrameKind.Echo) != 0;

    /// <summary>True for the echo of a frame of ours the bus gave up on.</summary>
    public readonly bool IsLostEcho => (Kind & (CanFrameKind.Echo | CanFrameKind.Lost)) == (CanFrameKind.Echo | CanFrameKind.Lost);

    /// <summary>True when <paramref name="other"/> is the same frame on the wire: identifier, kind (echo and loss aside), length and data.</summary>
    public readonly bool SameOnWire(in CanFrame other)
    {
        const CanFrameKind wire = ~(CanFrameKind.Echo | CanFrameKind.Lost);
        if (Id != other.Id || (Kind & wire) != (other.Kind & wire) || Length != other.Length) return false;
        if (IsRemote) return true;
        int n = Math.Min((int)Length, MaxLength);
        return ((ReadOnlySpan<byte>)Data)[..n].SequenceEqual(((ReadOnlySpan<byte>)other.Data)[..n]);
    }
}

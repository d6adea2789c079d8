using System.Text.Json.Serialization;

namespace AmpCan.Remoteproc.Boards;

/// <summary>
/// A /dev/mem register window that starts, stops and holds a core (devmem-registers): each sequence is a list of 32-bit
/// writes at offsets inside the window, done in order.
/// </summary>
public sealed record RegisterWindowSpec
{
    /// <summary>Physical address of the window's first byte, a multiple of 4.</summary>
    [JsonConverter(typeof(HexNumberConverter))] public required ulong PhysicalAddress { get; init; }
    /// <summary>Bytes in the window (not 0).</summary>
    [JsonConverter(typeof(HexNumberConverter))] public required ulong Size { get; init; }
    /// <summary>Writes that release the core to run the loaded image (at least one).</summary>
    public required IReadOnlyList<RegisterWrite> Start { get; init; }
    /// <summary>Writes that stop the core (at least one).</summary>
    public required IReadOnlyList<RegisterWrite> Stop { get; init; }
    /// <summary>Writes that keep the core held at boot (before loading, or after a start, so that a self-reset stays held).</summary>
    public IReadOnlyList<RegisterWrite> Hold { get; init; } = [];
}

/// <summary>
/// One 32-bit register write: the bits of <see cref="Mask"/> become those of <see cref="Value"/>, the others keep their
/// value (read, modify, write); a mask of 0xffffffff is a plain write, which a write-1-to-set register needs.
/// </summary>
public sealed record RegisterWrite
{
    /// <summary>Offset in the window, a multiple of 4, with the 4 bytes inside it.</summary>
    [JsonConverter(typeof(HexNumberConverter))] public required ulong Offset { get; init; }
    /// <summary>The bits written (32-bit, not 0).</summary>
    [JsonConverter(typeof(HexNumberConverter))] public required ulong Mask { get; init; }
    /// <summary>Their new value (only bits of <see cref="Mask"/>).</summary>
    [JsonConverter(typeof(HexNumberConverter))] public required ulong Value { get; init; }
}

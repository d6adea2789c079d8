using System.Text.Json.Serialization;

namespace AmpCan.Remoteproc.Boards;

/// <summary>How kicks travel.</summary>
public enum DoorbellKind
{
    /// <summary>A pair of eventfds (simulation; passed to a remote process over a UNIX socket).</summary>
    EventFd,
    /// <summary>Single bytes over a UNIX stream socket (OpenAMP's Linux port).</summary>
    UnixSocket,
    /// <summary>UIO interrupts in, a mailbox register out.</summary>
    Uio,
    /// <summary>No kicks: both sides poll.</summary>
    Polling,
}

/// <summary>The board's doorbell.</summary>
public sealed record DoorbellSpec
{
    /// <summary>How kicks travel.</summary>
    public required DoorbellKind Kind { get; init; }
    /// <summary>Longest UNIX socket path in bytes (<c>sun_path</c> holds 108 with the terminator).</summary>
    public const int MaxSocketPathBytes = 107;

    /// <summary>Socket path (unix-socket kind); the remote listens, the host connects.</summary>
    public string? Path { get; init; }
    /// <summary>UIO device whose interrupt signals the host (uio kind).</summary>
    public int UioDevice { get; init; }
    /// <summary>Offset of the 32-bit mailbox register in the UIO device's register map, a multiple of 4 (uio kind).</summary>
    [JsonConverter(typeof(HexNumberConverter))] public ulong MailboxOffset { get; init; }
    /// <summary>UIO map holding the mailbox register, below <see cref="SharedMemorySpec.UioMaps"/>.</summary>
    public int MailboxMap { get; init; } = 1;
    /// <summary>Constant part of the mailbox value (32 bits).</summary>
    [JsonConverter(typeof(HexNumberConverter))] public ulong MailboxValue { get; init; }
    /// <summary>Where the notify id goes in the 32-bit mailbox value, 0 to 31 (-1: not at all).</summary>
    public int MailboxNotifyIdShift { get; init; } = -1;
}

using System.Text.Json.Serialization;
using AmpCan.SharedMem.Doorbells;

namespace AmpCan.Remoteproc.Boards;

/// <summary>Which way a mailbox channel carries kicks (board files say <c>"both"</c>, <c>"to-remote"</c>, <c>"from-remote"</c>).</summary>
public enum MailboxDirection
{
    /// <summary>Kicks both ways (STM32's IPCC channels).</summary>
    Both,
    /// <summary>Host to remote only (i.MX MU "tx").</summary>
    ToRemote,
    /// <summary>Remote to host only (i.MX MU "rx", "rxdb").</summary>
    FromRemote,
}

/// <summary>
/// One doorbell channel of a remote core, as a device tree's <c>mboxes</c>/<c>mbox-names</c> pair names it: the fields
/// of a <see cref="DoorbellSpec"/>, which notify ids it carries, and which way. A channel the kernel keeps (its mailbox
/// driver consumes the kicks) is written with kind <c>polling</c>: AmpCan polls the rings that channel would announce.
/// </summary>
public sealed record MailboxSpec
{
    /// <summary>Longest channel name (as a device tree's mbox-names entry).</summary>
    public const int MaxNameLength = 31;

    /// <summary>The channel's name, unique in its core (the device tree's mbox-names entry where it has one).</summary>
    public required string Name { get; init; }
    /// <summary>How kicks travel on this channel.</summary>
    public required DoorbellKind Kind { get; init; }
    /// <summary>Socket path (unix-socket kind).</summary>
    public string? Path { get; init; }
    /// <summary>UIO device whose interrupt signals the host (uio kind; required there).</summary>
    public int? UioDevice { get; init; }
    /// <summary>UIO map holding the mailbox register (uio kind; required there, as a mailbox's own UIO device usually has one map, 0).</summary>
    public int? MailboxMap { get; init; }
    /// <summary>Offset of the 32-bit mailbox register in its map, a multiple of 4 (uio kind; required there).</summary>
    [JsonConverter(typeof(HexNumberConverter))] public ulong? MailboxOffset { get; init; }
    /// <summary>Constant part of the value written to kick (32 bits).</summary>
    [JsonConverter(typeof(HexNumberConverter))] public ulong MailboxValue { get; init; }
    /// <summary>Where the notify id goes in the written value, 0 to 31 (-1: not at all).</summary>
    public int MailboxNotifyIdShift { get; init; } = -1;
    /// <summary>The vring notify ids this channel carries; absent: all; empty: none (a control channel such as STM32's "shutdown").</summary>
    public IReadOnlyList<int>? NotifyIds { get; init; }
    /// <summary>Which way the hardware channel carries kicks; default both.</summary>
    public MailboxDirection Direction { get; init; } = MailboxDirection.Both;
    /// <summary>
    /// The mailbox block and the part of it this channel is; absent: a generic register (<see cref="MailboxBlockKind.Uio"/>).
    /// For a uio channel of a real block the kick's register and value come from it, and the remote's kicks are
    /// acknowledged as the block requires.
    /// </summary>
    public MailboxBlockSpec? Block { get; init; }

    /// <summary>The channel as a <see cref="DoorbellSpec"/> (what the runtime's doorbell code takes).</summary>
    // A method, not a property: a "doorbell" key inside a mailbox must be refused as unknown, not read by nobody.
    // A uio channel's block kick stands for the mailbox fields (which it requires absent), so the board's single
    // doorbell, written with the fields, still names the channel; a polling channel's block only records the hardware.
    public DoorbellSpec ToDoorbell()
    {
        MailboxKick? kick = Kind == DoorbellKind.Uio ? Block?.Kick : null;
        return new()
        {
            Kind = Kind, Path = Path, UioDevice = UioDevice ?? 0, MailboxMap = MailboxMap ?? new DoorbellSpec { Kind = Kind }.MailboxMap,
            MailboxOffset = kick?.Offset ?? MailboxOffset ?? 0, MailboxValue = kick?.Value ?? MailboxValue,
            MailboxNotifyIdShift = kick?.NotifyIdShift ?? MailboxNotifyIdShift,
        };
    }

    /// <summary>Whether the channel carries <paramref name="notifyId"/>.</summary>
    public bool Carries(int notifyId) => NotifyIds is null || NotifyIds.Contains(notifyId);

    /// <summary>The channel standing for a board's single <paramref name="doorbell"/>: every notify id, both ways.</summary>
    public static MailboxSpec From(string name, DoorbellSpec doorbell) => new()
    {
        Name = name, Kind = doorbell.Kind, Path = doorbell.Path, UioDevice = doorbell.UioDevice, MailboxMap = doorbell.MailboxMap,
        MailboxOffset = doorbell.MailboxOffset, MailboxValue = doorbell.MailboxValue, MailboxNotifyIdShift = doorbell.MailboxNotifyIdShift,
    };
}

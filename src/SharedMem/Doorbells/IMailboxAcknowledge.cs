namespace AmpCan.SharedMem.Doorbells;

/// <summary>
/// The receive side of a mailbox block behind a UIO interrupt: what the block's kernel driver does when it starts a
/// channel (unmask its receive interrupt) and when the interrupt fires (acknowledge the source). A
/// <see cref="UioDoorbell"/> calls <see cref="AcknowledgePending"/> after reading the UIO event and before re-enabling
/// the interrupt: a level-triggered source not acknowledged by then raises the interrupt again at once, and again, a storm.
/// </summary>
/// <remarks>
/// Register accesses are naturally aligned 32-bit loads and stores (the register map is device memory). Acknowledging
/// before the rings are read is what keeps a kick from being lost: one arriving after the acknowledgement raises a
/// fresh interrupt, and the rings read after it see its work.
/// </remarks>
public interface IMailboxAcknowledge
{
    /// <summary>Unmasks the receive interrupt of every channel this host owns (once, before the first wait).</summary>
    void Enable();

    /// <summary>Acknowledges every pending receive source of the channels this host owns; returns how many were pending.</summary>
    int AcknowledgePending();

    /// <summary>What the block and its channels are, for logs.</summary>
    string Description { get; }
}

/// <summary>Where a kick goes: a 32-bit register written with <c>Value | (notifyId &lt;&lt; NotifyIdShift)</c> (see <see cref="MailboxRegister"/>).</summary>
/// <param name="Offset">Offset of the register in the block's map.</param>
/// <param name="Value">Constant part of the value.</param>
/// <param name="NotifyIdShift">Where the notify id goes in the value, or -1 to leave it out.</param>
public readonly record struct MailboxKick(ulong Offset, uint Value, int NotifyIdShift = -1);

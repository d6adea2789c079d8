namespace AmpCan.SharedMem.Doorbells;

/// <summary>
/// A TI OMAP4-style mailbox cluster (K3 AM62x/AM64x, "ti,am654-mailbox"; Linux drivers/mailbox/omap-mailbox.c): 32-bit
/// message FIFOs, MESSAGE(m) at 0x40 + 4m (write: send; read: take one), MSGSTATUS(m) at 0xc0 + 4m (messages queued),
/// and per user u IRQSTATUS_CLR at 0x104 + 0x10u (write 1 to clear), IRQENABLE_SET at 0x108 + 0x10u. FIFO m's new-message
/// interrupt is bit 2m. The receive side empties the FIFO, then clears the status bit, as the driver's interrupt does.
/// </summary>
public sealed class OmapMailbox : IMailboxAcknowledge
{
    /// <summary>FIFOs a cluster has room for.</summary>
    public const int MaxFifos = 16;
    /// <summary>Users (interrupt outputs) a cluster has room for.</summary>
    public const int MaxUsers = 4;
    // Bounded so that a FIFO refilled as fast as it is read cannot hold the loop: what is left raises the interrupt again.
    private const int MaxMessagesPerAcknowledge = 64;

    private readonly IoRegion _registers;
    private readonly int _fifo;
    private readonly int _user;

    /// <summary>Takes messages from FIFO <paramref name="fifo"/> and acknowledges them as user <paramref name="user"/>.</summary>
    public OmapMailbox(IoRegion registers, int fifo, int user)
    {
        ArgumentNullException.ThrowIfNull(registers);
        ArgumentOutOfRangeException.ThrowIfNegative(fifo);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(fifo, MaxFifos);
        ArgumentOutOfRangeException.ThrowIfNegative(user);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(user, MaxUsers);
        _registers = registers;
        _fifo = fifo;
        _user = user;
    }

    /// <summary>MESSAGE(m).</summary>
    public static ulong Message(int fifo) => 0x40 + 4 * (ulong)fifo;
    /// <summary>MSGSTATUS(m).</summary>
    public static ulong MessageStatus(int fifo) => 0xc0 + 4 * (ulong)fifo;
    /// <summary>IRQSTATUS_CLR(u).</summary>
    public static ulong InterruptStatusClear(int user) => 0x104 + 0x10 * (ulong)user;
    /// <summary>IRQENABLE_SET(u).</summary>
    public static ulong InterruptEnableSet(int user) => 0x108 + 0x10 * (ulong)user;
    /// <summary>FIFO m's new-message bit (NEWMSG) in the user's interrupt registers.</summary>
    public static uint NewMessage(int fifo) => 1u << (2 * fifo);

    /// <summary>The kick into FIFO <paramref name="fifo"/>: the notify id as the message (what TI's firmware reads).</summary>
    public static MailboxKick Kick(int fifo) => new(Message(fifo), 0, 0);

    /// <inheritdoc/>
    public string Description => $"omap-mailbox (fifo {_fifo}, user {_user})";

    /// <inheritdoc/>
    public void Enable() => _registers.WriteU32Release(InterruptEnableSet(_user), NewMessage(_fifo));

    /// <inheritdoc/>
    public int AcknowledgePending()
    {
        int n = 0;
        while (n < MaxMessagesPerAcknowledge && _registers.ReadU32Acquire(MessageStatus(_fifo)) != 0)
        {
            _registers.ReadU32Acquire(Message(_fifo)); // a hint (the notify id): the rings say what to do
            n++;
        }
        _registers.WriteU32Release(InterruptStatusClear(_user), NewMessage(_fifo));
        // Read back, as the driver does: the clear must reach the block before the interrupt is re-enabled.
        _registers.ReadU32Acquire(InterruptStatusClear(_user));
        return n;
    }
}

namespace AmpCan.SharedMem.Doorbells;

/// <summary>The kinds of i.MX MU channel (a device tree's <c>mboxes = &lt;&amp;mu type index&gt;</c>).</summary>
public enum ImxMuChannelType
{
    /// <summary>Type 0, a transmit register TRn: a 32-bit message to the other side.</summary>
    Tx,
    /// <summary>Type 1, a receive register RRn: reading it takes the message and clears RFn.</summary>
    Rx,
    /// <summary>Type 3, a general-purpose interrupt GIPn from the other side (write 1 to clear).</summary>
    RxDoorbell,
}

/// <summary>
/// The i.MX Messaging Unit, side A, as i.MX 6SX/7D/8M have it (Linux drivers/mailbox/imx-mailbox.c, imx_mu_cfg_imx6sx,
/// MU v1): TR0-3 at 0x0-0xc, RR0-3 at 0x10-0x1c, SR at 0x20, CR at 0x24. Channel n's receive-full flag is SR bit
/// 27-n (RFn), its general-purpose interrupt pending SR bit 31-n (GIPn, write 1 to clear); their enables are CR bits
/// 27-n (RIEn) and 31-n (GIEn). Reading RRn is the acknowledgement of an rx channel; an rxdb channel's is writing GIPn.
/// </summary>
public sealed class ImxMu : IMailboxAcknowledge
{
    /// <summary>Channels of each type.</summary>
    public const int Channels = 4;
    /// <summary>Transmit register 0 (TRn at 4n).</summary>
    public const ulong TR0 = 0x00;
    /// <summary>Receive register 0 (RRn at 0x10 + 4n).</summary>
    public const ulong RR0 = 0x10;
    /// <summary>Status register.</summary>
    public const ulong SR = 0x20;
    /// <summary>Control register.</summary>
    public const ulong CR = 0x24;

    private readonly IoRegion _registers;
    private readonly int[] _rx;
    private readonly int[] _doorbells;

    /// <summary>Acknowledges the rx channels <paramref name="rx"/> and the rxdb channels <paramref name="doorbells"/> (indices 0 to 3).</summary>
    public ImxMu(IoRegion registers, IEnumerable<int> rx, IEnumerable<int> doorbells)
    {
        ArgumentNullException.ThrowIfNull(registers);
        _registers = registers;
        _rx = [.. rx.Distinct()];
        _doorbells = [.. doorbells.Distinct()];
        if (_rx.Concat(_doorbells).Any(i => i is < 0 or >= Channels)) throw new ArgumentOutOfRangeException(nameof(rx), $"MU channel indices are 0 to {Channels - 1}");
        if (_rx.Length + _doorbells.Length == 0) throw new ArgumentException("no rx or rxdb channel to acknowledge", nameof(rx));
    }

    /// <summary>Receive-full flag of rx channel <paramref name="index"/> in SR (RIEn in CR is the same bit).</summary>
    public static uint ReceiveFull(int index) => 1u << (27 - index);

    /// <summary>General-purpose interrupt pending flag of channel <paramref name="index"/> in SR (GIEn in CR is the same bit).</summary>
    public static uint GeneralInterruptPending(int index) => 1u << (31 - index);

    /// <summary>The kick of tx channel <paramref name="index"/>: a message written to TRn, the notify id at bit <paramref name="notifyIdShift"/> (imx_rproc: 16).</summary>
    public static MailboxKick Kick(int index, int notifyIdShift) => new(TR0 + 4 * (ulong)index, 0, notifyIdShift);

    /// <inheritdoc/>
    public string Description => $"imx-mu (rx [{string.Join(", ", _rx)}], rxdb [{string.Join(", ", _doorbells)}])";

    /// <inheritdoc/>
    /// <remarks>The driver's startup: RIEn for an rx channel, GIEn for an rxdb one; CR is read-modified-written only here.</remarks>
    public void Enable()
    {
        uint enable = 0;
        foreach (int i in _rx) enable |= ReceiveFull(i);
        foreach (int i in _doorbells) enable |= GeneralInterruptPending(i);
        _registers.WriteU32Release(CR, _registers.ReadU32Acquire(CR) | enable);
    }

    /// <inheritdoc/>
    public int AcknowledgePending()
    {
        uint status = _registers.ReadU32Acquire(SR);
        int n = 0;
        foreach (int i in _rx)
        {
            if ((status & ReceiveFull(i)) == 0) continue;
            // The message is a hint (imx_rproc's vq id): the rings say what to do, so it is read only to take it.
            _registers.ReadU32Acquire(RR0 + 4 * (ulong)i);
            n++;
        }
        uint doorbells = 0;
        foreach (int i in _doorbells) doorbells |= status & GeneralInterruptPending(i);
        if (doorbells != 0) _registers.WriteU32Release(SR, doorbells);
        return n + System.Numerics.BitOperations.PopCount(doorbells);
    }
}

namespace AmpCan.SharedMem.Doorbells;

/// <summary>
/// STM32MP1's IPCC as processor 1 (the Cortex-A7s, st,proc-id 0) sees it (Linux drivers/mailbox/stm32-ipcc.c, RM0436):
/// the remote's kick on channel n sets bit n of C2TOC1SR; the host acknowledges it by writing bit n (CHnC) to C1SCR,
/// and kicks channel n by writing bit 16+n (CHnS) to the same register. The receive interrupt ("rx", the line a UIO
/// device gets) is level: high while an unmasked channel is occupied and C1CR.RXOIE is set.
/// </summary>
public sealed class Stm32Ipcc : IMailboxAcknowledge
{
    /// <summary>Channels the register layout has room for (bits 0-15; the STM32MP15 has 6).</summary>
    public const int MaxChannels = 16;
    /// <summary>Processor 1's control register (RXOIE bit 0, TXFIE bit 16).</summary>
    public const ulong C1CR = 0x00;
    /// <summary>Processor 1's mask register (bit n masks channel n's receive, bit 16+n its transmit-free interrupt).</summary>
    public const ulong C1MR = 0x04;
    /// <summary>Processor 1's status set/clear register: bit n clears channel n's flag from processor 2, bit 16+n sets its own.</summary>
    public const ulong C1SCR = 0x08;
    /// <summary>Processor 2's channel status towards processor 1 (bit n: channel n occupied by the remote).</summary>
    public const ulong C2TOC1SR = 0x1c;
    private const uint RxOccupiedInterruptEnable = 1;

    private readonly IoRegion _registers;
    private readonly uint _channels;

    /// <summary>Acknowledges the channels whose bits are set in <paramref name="receiveChannels"/> (bit n: channel n).</summary>
    public Stm32Ipcc(IoRegion registers, uint receiveChannels)
    {
        ArgumentNullException.ThrowIfNull(registers);
        if (receiveChannels == 0 || receiveChannels > 0xffff) throw new ArgumentOutOfRangeException(nameof(receiveChannels), $"0x{receiveChannels:x}: channels 0 to {MaxChannels - 1}, at least one");
        _registers = registers;
        _channels = receiveChannels;
    }

    /// <summary>The kick of channel <paramref name="channel"/>: CHnS in C1SCR.</summary>
    public static MailboxKick Kick(int channel) => new(C1SCR, 1u << (16 + channel));

    /// <inheritdoc/>
    public string Description => $"stm32-ipcc (receive channels 0x{_channels:x})";

    /// <inheritdoc/>
    /// <remarks>What the driver's probe (RXOIE) and startup (unmask the channel's receive) do; C1CR and C1MR are
    /// read-modified-written once here, never while a kick may be written (kicks write only C1SCR).</remarks>
    public void Enable()
    {
        _registers.WriteU32Release(C1MR, _registers.ReadU32Acquire(C1MR) & ~_channels);
        _registers.WriteU32Release(C1CR, _registers.ReadU32Acquire(C1CR) | RxOccupiedInterruptEnable);
    }

    /// <inheritdoc/>
    /// <remarks>C1SCR reads as zero and ignores zero bits, so writing just the pending bits clears them and nothing
    /// else (the driver's read-modify-write of it amounts to the same).</remarks>
    public int AcknowledgePending()
    {
        uint pending = _registers.ReadU32Acquire(C2TOC1SR) & ~_registers.ReadU32Acquire(C1MR) & _channels;
        if (pending != 0) _registers.WriteU32Release(C1SCR, pending);
        return System.Numerics.BitOperations.PopCount(pending);
    }
}

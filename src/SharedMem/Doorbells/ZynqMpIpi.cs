namespace AmpCan.SharedMem.Doorbells;

/// <summary>
/// One agent's ZynqMP IPI register block, the host's own (ipi@ff340000 for channel 7, say; ZynqMP TRM UG1085, as OpenAMP's
/// libmetal demos drive it from user space): TRIG 0x0 (write the destination's bit to interrupt it), OBS 0x4 (bits
/// still pending at destinations), ISR 0x10 (bit per source agent, write 1 to clear), IMR 0x14, IER 0x18, IDR 0x1c.
/// The interrupt is level: high while an enabled ISR bit is set.
/// </summary>
public sealed class ZynqMpIpi : IMailboxAcknowledge
{
    /// <summary>Trigger register.</summary>
    public const ulong TRIG = 0x00;
    /// <summary>Observation register.</summary>
    public const ulong OBS = 0x04;
    /// <summary>Interrupt status register (write 1 to clear).</summary>
    public const ulong ISR = 0x10;
    /// <summary>Interrupt mask register (read only).</summary>
    public const ulong IMR = 0x14;
    /// <summary>Interrupt enable register (write 1 to unmask).</summary>
    public const ulong IER = 0x18;
    /// <summary>Interrupt disable register (write 1 to mask).</summary>
    public const ulong IDR = 0x1c;

    private readonly IoRegion _registers;
    private readonly uint _sources;

    /// <summary>Acknowledges kicks from the agents whose bits are set in <paramref name="sourceAgents"/>.</summary>
    public ZynqMpIpi(IoRegion registers, uint sourceAgents)
    {
        ArgumentNullException.ThrowIfNull(registers);
        if (sourceAgents == 0) throw new ArgumentOutOfRangeException(nameof(sourceAgents), "no source agent to acknowledge");
        _registers = registers;
        _sources = sourceAgents;
    }

    /// <summary>The kick of the agent whose bit is <paramref name="agentBit"/>: that bit written to TRIG.</summary>
    /// <remarks>Linux polls OBS for the previous kick's bit to clear before it counts a message as sent; a doorbell need
    /// not: a kick while the last is still pending is the same "look at the rings", which the remote has still to do.</remarks>
    public static MailboxKick Kick(uint agentBit) => new(TRIG, agentBit);

    /// <inheritdoc/>
    public string Description => $"zynqmp-ipi (source agents 0x{_sources:x})";

    /// <inheritdoc/>
    public void Enable() => _registers.WriteU32Release(IER, _sources);

    /// <inheritdoc/>
    public int AcknowledgePending()
    {
        uint pending = _registers.ReadU32Acquire(ISR) & _sources;
        if (pending != 0) _registers.WriteU32Release(ISR, pending);
        return System.Numerics.BitOperations.PopCount(pending);
    }
}

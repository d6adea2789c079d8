using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;

namespace AmpCan.Tests.Host;

/// <summary>
/// The hardware side of each mailbox block over a real memfd register map: the state a register file cannot keep by
/// itself (write-1-to-clear status, set/clear registers that read as zero) kept here and presented in the map, and
/// the writes the host made taken out of it (<see cref="Settle"/>) when the interrupt line is evaluated. A read that
/// clears (MU's RRn, OMAP's MESSAGE) cannot be seen on plain memory; those paths are tested by their return values.
/// </summary>
internal abstract class MailboxBlockModel
{
    protected readonly object Gate = new();

    protected MailboxBlockModel(ulong size) => Map = MappedRegion.CreateMemfd("mailbox-registers", size);

    public MappedRegion Map { get; }
    public IoRegion Registers => Map.Io;

    /// <summary>Writes the host made to the command registers, in order (register offset, value).</summary>
    public List<(ulong Offset, uint Value)> HostWrites { get; } = [];

    /// <summary>Takes the host's writes into the hardware state; returns whether the interrupt output is asserted.</summary>
    public bool Line()
    {
        lock (Gate)
        {
            Settle();
            return Asserted();
        }
    }

    protected abstract void Settle();
    protected abstract bool Asserted();

    protected void Took(ulong offset, uint value) => HostWrites.Add((offset, value));
}

/// <summary>STM32 IPCC, processor 1's side: C1SCR reads as zero (clear bits 0-15, set bits 16-31), C2TOC1SR the remote's flags.</summary>
internal sealed class IpccModel : MailboxBlockModel
{
    private uint _fromRemote, _toRemote;

    public IpccModel() : base(0x400)
    {
        Registers.WriteU32(Stm32Ipcc.C1MR, 0xffffffff); // the driver's probe leaves every channel masked
    }

    public uint ToRemote { get { lock (Gate) { Settle(); return _toRemote; } } }

    public void RemoteKicks(int channel)
    {
        lock (Gate)
        {
            Settle();
            _fromRemote |= 1u << channel;
            Registers.WriteU32(Stm32Ipcc.C2TOC1SR, _fromRemote);
        }
    }

    protected override void Settle()
    {
        uint scr = Registers.ReadU32(Stm32Ipcc.C1SCR);
        if (scr == 0) return;
        Took(Stm32Ipcc.C1SCR, scr);
        _fromRemote &= ~(scr & 0xffff);
        _toRemote |= scr >> 16;
        Registers.WriteU32(Stm32Ipcc.C1SCR, 0);
        Registers.WriteU32(Stm32Ipcc.C2TOC1SR, _fromRemote);
    }

    protected override bool Asserted() =>
        (Registers.ReadU32(Stm32Ipcc.C1CR) & 1) != 0 && (_fromRemote & ~Registers.ReadU32(Stm32Ipcc.C1MR) & 0xffff) != 0;
}

/// <summary>ZynqMP IPI, the host agent's registers: ISR write-1-to-clear, IER write-1-to-enable, TRIG a kick.</summary>
internal sealed class IpiModel : MailboxBlockModel
{
    /// <summary>Another agent's pending bit (PMU0's), not the host's to clear: it also makes a W1C write visible.</summary>
    public const uint Other = 0x10000;
    private uint _status = Other, _enabled;

    public IpiModel() : base(0x1000) => Registers.WriteU32(ZynqMpIpi.ISR, _status);

    public void RemoteKicks(uint agentBit)
    {
        lock (Gate)
        {
            Settle();
            _status |= agentBit;
            Registers.WriteU32(ZynqMpIpi.ISR, _status);
        }
    }

    public bool OtherStillPending { get { lock (Gate) { Settle(); return (_status & Other) != 0; } } }

    protected override void Settle()
    {
        uint isr = Registers.ReadU32(ZynqMpIpi.ISR);
        if (isr != _status)
        {
            Took(ZynqMpIpi.ISR, isr);
            _status &= ~isr;
            Registers.WriteU32(ZynqMpIpi.ISR, _status);
        }
        foreach (ulong command in new[] { ZynqMpIpi.IER, ZynqMpIpi.TRIG })
        {
            uint v = Registers.ReadU32(command);
            if (v == 0) continue;
            Took(command, v);
            if (command == ZynqMpIpi.IER) _enabled |= v;
            Registers.WriteU32(command, 0);
        }
    }

    protected override bool Asserted() => (_status & _enabled) != 0;
}

/// <summary>i.MX MU side A: SR's GIPn write-1-to-clear (its TEn bits, set while the transmit registers are empty, make the write visible).</summary>
internal sealed class MuModel : MailboxBlockModel
{
    private const uint TransmitEmpty = 0x00f00000;
    private uint _status = TransmitEmpty;

    public MuModel() : base(0x1000) => Registers.WriteU32(ImxMu.SR, _status);

    public void RemoteRaisesGeneralInterrupt(int index)
    {
        lock (Gate)
        {
            Settle();
            _status |= ImxMu.GeneralInterruptPending(index);
            Registers.WriteU32(ImxMu.SR, _status);
        }
    }

    public void RemoteSends(int index, uint message)
    {
        lock (Gate)
        {
            Settle();
            Registers.WriteU32(ImxMu.RR0 + 4 * (ulong)index, message);
            _status |= ImxMu.ReceiveFull(index);
            Registers.WriteU32(ImxMu.SR, _status);
        }
    }

    protected override void Settle()
    {
        uint sr = Registers.ReadU32(ImxMu.SR);
        if (sr == _status) return;
        Took(ImxMu.SR, sr);
        _status &= ~(sr & 0xf0000000);
        Registers.WriteU32(ImxMu.SR, _status);
    }

    protected override bool Asserted() => (_status & Registers.ReadU32(ImxMu.CR) & 0xf0000000) != 0;
}

/// <summary>OMAP mailbox cluster, one user: IRQSTATUS_CLR and IRQENABLE_SET are commands (they read back the state).</summary>
internal sealed class OmapModel : MailboxBlockModel
{
    private readonly int _user;
    private uint _status, _enabled;

    public OmapModel(int user) : base(0x200) => _user = user;

    public void RemoteSends(int fifo, uint message, bool leaveQueued)
    {
        lock (Gate)
        {
            Settle();
            Registers.WriteU32(OmapMailbox.Message(fifo), message);
            Registers.WriteU32(OmapMailbox.MessageStatus(fifo), leaveQueued ? 1u : 0u);
            _status |= OmapMailbox.NewMessage(fifo);
        }
    }

    protected override void Settle()
    {
        foreach (ulong command in new[] { OmapMailbox.InterruptStatusClear(_user), OmapMailbox.InterruptEnableSet(_user) })
        {
            uint v = Registers.ReadU32(command);
            if (v == 0) continue;
            Took(command, v);
            if (command == OmapMailbox.InterruptStatusClear(_user)) _status &= ~v;
            else _enabled |= v;
            Registers.WriteU32(command, 0);
        }
    }

    protected override bool Asserted() => (_status & _enabled) != 0;
}

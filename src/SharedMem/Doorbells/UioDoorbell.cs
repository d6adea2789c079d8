using static Tmds.Linux.LibC;

namespace AmpCan.SharedMem.Doorbells;

/// <summary>
/// A mailbox register in a mapped window: writing it interrupts the remote. The value is
/// <c>Value | (notifyId &lt;&lt; NotifyIdShift)</c>, which covers both "write any value" mailboxes and ones that carry
/// the queue number (ivshmem doorbell: peer &lt;&lt; 16 | vector; i.MX MU: vq id &lt;&lt; 16).
/// </summary>
/// <param name="Registers">The window holding the register (a UIO or /dev/mem map).</param>
/// <param name="Offset">Offset of the 32-bit register in the window.</param>
/// <param name="Value">Constant part of the value written.</param>
/// <param name="NotifyIdShift">Where the notify id goes in the value, or -1 to leave it out.</param>
public sealed record MailboxRegister(IoRegion Registers, ulong Offset, uint Value = 0, int NotifyIdShift = -1)
{
    /// <summary>Writes the register; every store to shared memory before it is visible first (to a remote core: mb()).</summary>
    public void Ring(uint notifyId)
    {
        uint v = NotifyIdShift >= 0 ? Value | (notifyId << NotifyIdShift) : Value;
        Registers.Fence();
        Registers.WriteU32Release(Offset, v);
    }
}

/// <summary>
/// Interrupts from a UIO device (<c>/dev/uioN</c>): a 4-byte read returns the event count, writing 1 re-enables the
/// interrupt (uio_pdrv_genirq semantics). Kicks to the remote go through a <see cref="MailboxRegister"/>. A mailbox
/// block whose source must be acknowledged (<see cref="IMailboxAcknowledge"/>) is acknowledged after the event is read
/// and before the interrupt is re-enabled; uio_pdrv_genirq disables a level-triggered line until then, and re-enabling
/// it with the source still pending would fire it again at once.
/// </summary>
public sealed unsafe class UioDoorbell : Doorbell
{
    private readonly FileDescriptorHandle _device;
    private readonly MailboxRegister? _outgoing;
    private readonly IMailboxAcknowledge? _source;
    private readonly string _description;

    /// <summary>
    /// Opens <paramref name="uioDevicePath"/>, unmasks <paramref name="source"/>'s receive channels (when given) and
    /// enables the interrupt.
    /// </summary>
    public UioDoorbell(string uioDevicePath, MailboxRegister? outgoing, IMailboxAcknowledge? source = null)
    {
        _description = source is null ? $"uio({uioDevicePath})" : $"uio({uioDevicePath}, {source.Description})";
        _outgoing = outgoing;
        _source = source;
        _device = new FileDescriptorHandle(Posix.Open(uioDevicePath, O_RDWR | O_NONBLOCK));
        try
        {
            // Kicks that came before the host listened are acknowledged too: the first pass of the loop reads the rings.
            source?.Enable();
            source?.AcknowledgePending();
            Rearm();
        }
        catch
        {
            _device.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public override int WaitFd => _device.NumberOrInvalid;

    internal override FileDescriptorHandle WaitDescriptor => _device;

    /// <inheritdoc/>
    public override string Description => _description;

    /// <inheritdoc/>
    public override void Ring(uint notifyId = 0)
    {
        if (_outgoing is null) throw new InvalidOperationException($"{Description} has no mailbox register to kick the remote with");
        ObjectDisposedException.ThrowIf(_device.IsDisposed, this);
        _outgoing.Ring(notifyId);
    }

    /// <inheritdoc/>
    public override bool Acknowledge()
    {
        uint count;
        int fd = _device.Enter(_description);
        try
        {
            long n = Posix.Read(fd, &count, 4);
            if (n == -EAGAIN) return false;
            if (n != 4) throw SharedMemoryException.FromErrno($"read from {Description}", n < 0 ? (int)-n : EIO);
            // Source first, then the line: a kick between the two raises a fresh interrupt after the re-enable, and the
            // rings, read after this returns, see its work either way.
            _source?.AcknowledgePending();
            Rearm(fd);
            return true;
        }
        finally
        {
            _device.Exit();
        }
    }

    private void Rearm()
    {
        int fd = _device.Enter(_description);
        try
        {
            Rearm(fd);
        }
        finally
        {
            _device.Exit();
        }
    }

    private void Rearm(int fd)
    {
        int one = 1;
        long n = Posix.Write(fd, &one, 4);
        if (n != 4) throw SharedMemoryException.FromErrno($"re-enabling the interrupt of {Description}", n < 0 ? (int)-n : EIO);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing) => _device.Dispose();
}

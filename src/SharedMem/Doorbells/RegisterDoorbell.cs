namespace AmpCan.SharedMem.Doorbells;

/// <summary>
/// Kicks through a mailbox register and is never waited on: a channel of a block whose interrupt another channel's
/// <see cref="UioDoorbell"/> already watches (one UIO device, one interrupt, several channels), or one that only sends.
/// </summary>
public sealed class RegisterDoorbell : Doorbell
{
    private readonly MailboxRegister _register;
    private int _disposed;

    /// <summary>Kicks through <paramref name="register"/>.</summary>
    public RegisterDoorbell(MailboxRegister register, string description)
    {
        ArgumentNullException.ThrowIfNull(register);
        _register = register;
        Description = description;
    }

    /// <inheritdoc/>
    public override string Description { get; }

    /// <inheritdoc/>
    public override void Ring(uint notifyId = 0)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        _register.Ring(notifyId);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing) => Volatile.Write(ref _disposed, 1);
}

namespace AmpCan.SharedMem.Doorbells;

/// <summary>Several receive sources behind one interrupt (two OMAP FIFOs on one user), acknowledged in turn.</summary>
public sealed class MailboxAcknowledgements : IMailboxAcknowledge
{
    private readonly IMailboxAcknowledge[] _sources;

    /// <summary>Acknowledges each of <paramref name="sources"/>.</summary>
    public MailboxAcknowledgements(IMailboxAcknowledge[] sources)
    {
        ArgumentNullException.ThrowIfNull(sources);
        _sources = sources;
    }

    /// <inheritdoc/>
    public string Description => string.Join(" + ", _sources.Select(s => s.Description));

    /// <inheritdoc/>
    public void Enable()
    {
        foreach (IMailboxAcknowledge s in _sources) s.Enable();
    }

    /// <inheritdoc/>
    public int AcknowledgePending()
    {
        int n = 0;
        foreach (IMailboxAcknowledge s in _sources) n += s.AcknowledgePending();
        return n;
    }
}

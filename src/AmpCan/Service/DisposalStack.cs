using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AmpCan.Host.Service;

/// <summary>
/// What a composition started, stopped last first: a back end before the loop its device runs on, a device before the
/// memory it uses. One failing to stop is logged and the rest still stop.
/// </summary>
public sealed class DisposalStack(ILogger? logger = null, string? owner = null) : IDisposable
{
    private readonly List<IDisposable> _items = [];
    private readonly ILogger _logger = logger ?? NullLogger.Instance;

    /// <summary>Adds <paramref name="item"/> and returns it.</summary>
    public T Push<T>(T item) where T : IDisposable
    {
        _items.Add(item);
        return item;
    }

    /// <summary>Disposes everything added, last first; safe to call twice.</summary>
    public void Dispose()
    {
        for (int i = _items.Count - 1; i >= 0; i--)
        {
            try { _items[i].Dispose(); }
            catch (Exception e) { _logger.LogWarning(e, "{Owner}: error while stopping", owner ?? "ampcan"); }
        }
        _items.Clear();
    }
}

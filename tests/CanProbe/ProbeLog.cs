using Microsoft.Extensions.Logging;

namespace AmpCan.Tests.CanProbe;

/// <summary>The ports' log: every line to stderr, prefixed with the logger's name, and kept so that a check can ask what was said.</summary>
internal sealed class ProbeLog
{
    private readonly List<(string Logger, string Text)> _lines = [];

    /// <summary>A logger whose lines carry <paramref name="name"/>.</summary>
    public ILogger For(string name) => new Logger(this, name);

    /// <summary>True when logger <paramref name="name"/> wrote a line containing <paramref name="text"/>.</summary>
    public bool Has(string name, string text)
    {
        lock (_lines) return _lines.Any(l => l.Logger == name && l.Text.Contains(text, StringComparison.Ordinal));
    }

    private sealed class Logger(ProbeLog owner, string name) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            string text = formatter(state, exception) + (exception is null ? "" : $" | {exception}");
            lock (owner._lines) owner._lines.Add((name, text));
            Console.Error.WriteLine($"LOG {logLevel} [{name}] {text}");
        }
    }
}

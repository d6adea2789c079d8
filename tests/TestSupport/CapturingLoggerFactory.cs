using Microsoft.Extensions.Logging;

namespace AmpCan.Tests;

/// <summary>A logger factory that keeps every line written through it, so a test can assert what was logged (and how often).</summary>
internal sealed class CapturingLoggerFactory : ILoggerFactory, ILoggerProvider
{
    private readonly List<(LogLevel Level, string Category, string Text)> _lines = [];

    /// <summary>Every line so far.</summary>
    public IReadOnlyList<(LogLevel Level, string Category, string Text)> Lines { get { lock (_lines) return [.. _lines]; } }

    /// <summary>The lines at <paramref name="level"/> or above.</summary>
    public IReadOnlyList<string> AtLeast(LogLevel level) { lock (_lines) return _lines.Where(l => l.Level >= level).Select(l => l.Text).ToList(); }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void AddProvider(ILoggerProvider provider) { }

    public void Dispose() { }

    private sealed class Logger(CapturingLoggerFactory owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (owner._lines) owner._lines.Add((logLevel, category, formatter(state, exception) + (exception is null ? "" : " | " + exception.GetType().Name)));
        }
    }
}

using AmpCan.Host.Service;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AmpCan.Host.Control;

/// <summary>
/// Runs the <see cref="ControlServer"/> beside the <see cref="BoardService"/> for as long as the host runs, serving the
/// board's cores. A socket that was asked for (configured, or systemd's runtime directory) and cannot be set up stops the
/// service with one critical line and exit code 1; one only guessed at is given up with a warning, and the board is
/// served without it.
/// </summary>
public sealed class ControlSocketService(ControlSocketSettings settings, BoardService board, ILoggerFactory loggers, IHostApplicationLifetime lifetime) : IHostedService
{
    private readonly ILogger _logger = loggers.CreateLogger<ControlSocketService>();
    private ControlServer? _server;

    /// <summary>0, or 1 when a required control socket could not be set up.</summary>
    public int ExitCode { get; private set; }

    /// <summary>The socket being served, or null.</summary>
    public string? Path => _server?.Path;

    /// <inheritdoc/>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (settings.Path is null)
        {
            _logger.Log(settings.Off ? LogLevel.Information : LogLevel.Warning,
                "no control socket ({Why}): ampcan status, start, stop and recover cannot reach this service", settings.Why);
            return Task.CompletedTask;
        }
        try
        {
            _server = ControlServer.Start(settings, () => board.Cores, _logger);
            _logger.LogInformation("control socket {Path} (mode {Mode}, owner {Owner}, group {Group})", _server.Path, settings.ModeText,
                settings.Owner ?? "the service's", settings.Group ?? "the service's");
        }
        catch (Exception e) when (e is ControlSocketException or IOException or UnauthorizedAccessException)
        {
            if (settings.Required)
            {
                _logger.LogCritical("cannot serve the control socket: {Reason}", e.Message);
                ExitCode = 1;
                lifetime.StopApplication();
            }
            else
            {
                _logger.LogWarning("no control socket at the default place: {Reason}; set {Key} to choose one", e.Message, ControlSocketSettings.PathKey);
            }
        }
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task StopAsync(CancellationToken cancellationToken)
    {
        _server?.Dispose();
        return Task.CompletedTask;
    }
}

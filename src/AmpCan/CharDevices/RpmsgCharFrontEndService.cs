using AmpCan.Fuse;
using AmpCan.RpmsgChar;
using AmpCan.RpmsgChar.FrontEnds;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AmpCan.Host.CharDevices;

/// <summary>
/// Serves the rpmsg_char files of every rpmsg device the board runs (<see cref="RpmsgCharDevices"/>, bound by the
/// board service) through the configured front end. Started before the board and stopped after it: by then every
/// device is gone, so every held read was answered (EPIPE) before the file system goes. A front end that was asked for
/// by name and cannot start stops the service (exit 1); under <c>auto</c>, no privilege is one warning and the board
/// runs on without files.
/// </summary>
public sealed class RpmsgCharFrontEndService(RpmsgCharSettings settings, RpmsgCharDevices devices, ILoggerFactory loggers, IHostApplicationLifetime lifetime) : IHostedService
{
    private readonly ILogger _logger = loggers.CreateLogger("AmpCan.RpmsgChar");
    private IDisposable? _frontEnd;

    /// <summary>0, or 1 when a front end asked for by name could not start.</summary>
    public int ExitCode { get; private set; }

    /// <summary>Where the files are (the FUSE directory, or /dev), or null when none are served.</summary>
    public string? Directory { get; private set; }

    /// <inheritdoc/>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (settings.FrontEnd == RpmsgCharFrontEndKind.None)
        {
            _logger.LogInformation("rpmsg_char files are off ({Section}:FrontEnd is none)", RpmsgCharSettings.Section);
            return Task.CompletedTask;
        }
        string? cuseRefused = null;
        if (settings.FrontEnd is RpmsgCharFrontEndKind.Cuse or RpmsgCharFrontEndKind.Auto)
        {
            try
            {
                _frontEnd = RpmsgCharCuseDevices.Start(devices, settings.Access, _logger);
                Directory = "/dev";
                _logger.LogInformation("rpmsg_char devices in /dev (CUSE; owner {Owner}, group {Group}, mode {Mode})",
                    settings.Access.Owner, settings.Access.Group, settings.Access.ModeText);
                return Task.CompletedTask;
            }
            catch (FuseMountException e)
            {
                if (settings.FrontEnd == RpmsgCharFrontEndKind.Cuse)
                {
                    _logger.LogCritical("cannot serve the rpmsg_char devices through CUSE: {Reason}", e.Message);
                    ExitCode = 1;
                    lifetime.StopApplication();
                    return Task.CompletedTask;
                }
                cuseRefused = e.Message;
            }
        }
        try
        {
            RpmsgCharFuseMount mount = RpmsgCharFuseMount.Mount(settings.Directory, devices, settings.Access, _logger);
            _frontEnd = mount;
            Directory = mount.Directory;
            _logger.LogInformation("rpmsg_char files in {Directory} (FUSE; owner {Owner}, group {Group}, mode {Mode}): regular files, programs that insist on S_ISCHR need CUSE",
                mount.Directory, settings.Access.Owner, settings.Access.Group, settings.Access.ModeText);
        }
        catch (Exception e) when (e is FuseMountException or IOException or UnauthorizedAccessException)
        {
            if (settings.FrontEnd == RpmsgCharFrontEndKind.Auto)
                _logger.LogWarning("no rpmsg_char files: CUSE: {Cuse}; FUSE: {Reason}; everything else keeps running ({Section}:FrontEnd none silences this)",
                    cuseRefused, e.Message, RpmsgCharSettings.Section);
            else
            {
                _logger.LogCritical("cannot serve the rpmsg_char files: {Reason}", e.Message);
                ExitCode = 1;
                lifetime.StopApplication();
            }
        }
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task StopAsync(CancellationToken cancellationToken)
    {
        _frontEnd?.Dispose();
        _frontEnd = null;
        return Task.CompletedTask;
    }
}

using System.CommandLine;
using AmpCan.Host.CharDevices;
using AmpCan.Host.Control;
using AmpCan.Host.Service;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AmpCan.Host.Commands;

/// <summary><c>ampcan</c> without a command: the service, on the generic host, serving one board.</summary>
internal static class ServiceCommand
{
    /// <summary>Adds the service's options and action to the root command.</summary>
    public static void AddTo(RootCommand root)
    {
        Option<string?> board = CommonOptions.Board();
        var remote = CommonOptions.Remote();
        var mode = CommonOptions.Mode();
        root.Options.Add(board);
        root.Options.Add(remote);
        root.Options.Add(mode);
        root.SetAction((r, ct) => Run(r.GetValue(board), r.GetValue(remote), r.GetValue(mode), ct));
    }

    private static async Task<int> Run(string? board, Remoteproc.Boards.RemoteKind? remote, SharedMem.Doorbells.NotificationMode? mode, CancellationToken ct)
    {
        HostApplicationBuilder builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        AmpCanOptions options = AmpCanConfiguration.Resolve(builder.Configuration, board, remote, mode);
        BoardFiles.Resolve(options.Board); // a wrong board is a usage error, reported before the host starts
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; });
        builder.Services.AddSingleton(Options.Create(options));
        // Before the board: started first, stopped last, after every rpmsg device (and so every held read) is gone.
        builder.Services.AddSingleton(RpmsgCharSettings.From(builder.Configuration));
        builder.Services.AddSingleton(sp => new RpmsgChar.RpmsgCharDevices(sp.GetRequiredService<ILoggerFactory>().CreateLogger("AmpCan.RpmsgChar")));
        builder.Services.AddSingleton<RpmsgCharFrontEndService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<RpmsgCharFrontEndService>());
        builder.Services.AddSingleton<BoardService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<BoardService>());
        // After the board: started with it (the socket answers while the cores come up), stopped before it.
        builder.Services.AddSingleton(ControlSocketSettings.ForService(builder.Configuration));
        builder.Services.AddSingleton<ControlSocketService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ControlSocketService>());
        using IHost host = builder.Build();
        BoardService service = host.Services.GetRequiredService<BoardService>();
        ControlSocketService control = host.Services.GetRequiredService<ControlSocketService>();
        RpmsgCharFrontEndService files = host.Services.GetRequiredService<RpmsgCharFrontEndService>();
        await host.RunAsync(ct).ConfigureAwait(false);
        return Math.Max(Math.Max(service.ExitCode, control.ExitCode), files.ExitCode);
    }
}

using System.CommandLine;
using AmpCan.Host.Service;
using AmpCan.Remoteproc.Boards;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Simulation;
using AmpCan.VhostUser;
using Microsoft.Extensions.Logging;

namespace AmpCan.Host.Commands;

/// <summary>
/// <c>ampcan vhost-user</c>: serve virtio devices to QEMU guests over vhost-user, in the style of rust-vmm's vhost-device
/// daemons (<c>--socket-path</c>, <c>--socket-count</c>); today the rpmsg device with the simulated remote's services.
/// </summary>
internal static class VhostUserCommand
{
    /// <summary>The most sockets one process serves.</summary>
    public const int MaxSockets = 64;

    /// <summary>The devices this command can serve.</summary>
    public enum DeviceKind
    {
        /// <summary>virtio-rpmsg (id 7): the simulated remote core's services.</summary>
        Rpmsg,
        /// <summary>virtio-can (id 36): a CAN controller per socket, all on one in-process bus.</summary>
        Can,
    }

    public static Command Create()
    {
        var socketPath = new Option<string>("--socket-path", "-s")
            { Description = "UNIX socket to listen on; with --socket-count N > 1, PATH0 … PATH(N-1)", Required = true };
        var socketCount = new Option<int?>("--socket-count", "-c") { Description = $"Devices to serve, one socket each (1 to {MaxSockets}; default 1)" };
        var device = new Option<DeviceKind>("--device", "-d") { Description = "Which virtio device to serve", Required = true, HelpName = "rpmsg|can" };
        device.CustomParser = r => CommonOptions.ParseEnum<DeviceKind>(r.Tokens[0].Value, "--device", r) ?? default;
        Option<string?> board = CommonOptions.Board("Board whose remote.services name the channels announced (default: configuration AmpCan:Board, else sim)");
        Option<NotificationMode?> mode = CommonOptions.Mode();
        var canDevices = new Option<string?>("--can-devices")
        {
            Description = "With --device can: SocketCAN interfaces, one per socket in order, space-separated (\"can0 can1\"); default: one in-process bus for all",
            HelpName = "\"IF0 IF1 …\"",
        };
        var command = new Command("vhost-user", "Serve virtio devices to QEMU guests over vhost-user (AmpCan as the back end): a guest's Linux rpmsg stack sees a remote core")
            { socketPath, socketCount, device, board, mode, canDevices };
        command.Validators.Add(r =>
        {
            int n = r.GetValue(socketCount) ?? 1;
            if (n is < 1 or > MaxSockets) r.AddError($"--socket-count: {n} must be 1 to {MaxSockets}");
            if (string.IsNullOrWhiteSpace(r.GetValue(socketPath))) r.AddError("--socket-path must name a file");
            if (r.GetValue(canDevices) is string ifaces)
            {
                string[] names = ifaces.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (r.GetValue(device) != DeviceKind.Can) r.AddError("--can-devices: only with --device can");
                else if (names.Length != n) r.AddError($"--can-devices: {names.Length} interface(s) for {n} socket(s); give one per socket (--socket-count)");
                foreach (string name in names)
                    if (name.Length > 15 || name.Contains('/') || name.Contains(':')) r.AddError($"--can-devices: '{name}' is not an interface name (1 to 15 bytes, no '/' or ':')");
            }
        });
        command.SetAction((r, ct) =>
        {
            AmpCanOptions settings = AmpCanConfiguration.Resolve(AmpCanConfiguration.Load(), r.GetValue(board), null, r.GetValue(mode));
            BoardDescriptor b = BoardDescriptor.Load(BoardFiles.Resolve(settings.Board));
            IReadOnlyList<string> paths = VhostUserSocketPaths.Expand(r.GetValue(socketPath)!, r.GetValue(socketCount) ?? 1);
            using ILoggerFactory loggers = LoggerFactory.Create(l => l.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; }));
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct, ProcessTermination.Token);
            NotificationMode loopMode = settings.Mode ?? b.Notification.Mode;
            using (IDisposable served = r.GetValue(device) == DeviceKind.Can
                ? VhostUserCanService.Start(paths, loopMode, loggers, r.GetValue(canDevices)?.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                : VhostUserRpmsgService.Start(paths, SimulatedFirmware.For(b), loopMode, loggers))
            {
                Console.Error.WriteLine($"ampcan: serving {r.GetValue(device).ToString().ToLowerInvariant()} on {string.Join(", ", paths)}; Ctrl+C stops");
                stop.Token.WaitHandle.WaitOne();
            }
            return Task.FromResult(0);
        });
        return command;
    }
}

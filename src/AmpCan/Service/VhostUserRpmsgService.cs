using AmpCan.Rpmsg;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Simulation;
using AmpCan.VhostUser;
using Microsoft.Extensions.Logging;

namespace AmpCan.Host.Service;

/// <summary>
/// The simulated remote core served to QEMU guests over vhost-user, as rust-vmm's vhost-device daemons serve theirs:
/// per socket an rpmsg device (the remote's role, the same device code a resource-table vdev runs), the simulated
/// firmware's services announced on every activation, and a loop of its own. A guest's Linux <c>virtio_rpmsg_bus</c>
/// sees a remote processor.
/// </summary>
public sealed class VhostUserRpmsgService : IDisposable
{
    private readonly DisposalStack _owned = new();

    /// <summary>
    /// How long the client-sample service holds its first reply when the firmware sets no delay of its own: a guest's
    /// <c>rpmsg_client_sample</c> must have left its probe's tx_lock first (see <see cref="SimulatedFirmware.SampleFirstReplyDelay"/>).
    /// </summary>
    public static readonly TimeSpan GuestSampleFirstReplyDelay = TimeSpan.FromMilliseconds(50);

    /// <summary>One served device: its socket, its rpmsg device, its services, its back end and loop.</summary>
    public sealed record Instance(string SocketPath, VirtioRpmsgDevice Device, SimulatedServices Services, VhostUserBackend Backend, NotificationLoop Loop);

    /// <summary>The devices served, one per socket.</summary>
    public IReadOnlyList<Instance> Instances { get; }

    private VhostUserRpmsgService(List<Instance> instances) => Instances = instances;

    /// <summary>
    /// Starts one device per path in <paramref name="socketPaths"/>, offering the services of <paramref name="firmware"/>;
    /// on failure everything started so far is stopped and the error names the socket.
    /// </summary>
    public static VhostUserRpmsgService Start(IReadOnlyList<string> socketPaths, SimulatedFirmware firmware, NotificationMode mode, ILoggerFactory loggers,
        VhostUserBackendOptions? options = null)
    {
        if (firmware.SampleFirstReplyDelay == TimeSpan.Zero) firmware = firmware with { SampleFirstReplyDelay = GuestSampleFirstReplyDelay };
        var instances = new List<Instance>();
        var service = new VhostUserRpmsgService(instances);
        try
        {
            for (int i = 0; i < socketPaths.Count; i++)
            {
                string path = socketPaths[i];
                string name = socketPaths.Count == 1 ? "rpmsg" : $"rpmsg{i}";
                var loop = service.Own(new NotificationLoop($"vhost-{name}", mode, logger: loggers.CreateLogger("AmpCan.Loop")));
                var device = new VirtioRpmsgDevice(name, logger: loggers.CreateLogger("AmpCan.Rpmsg"));
                var services = new SimulatedServices(loop, firmware, null, loggers.CreateLogger("AmpCan.RemoteSim"));
                // Every activation is a new bus (a reloaded driver, a rebooted guest, a new QEMU): announce the services on it.
                device.Activated += services.Announce;
                loop.Start();
                var backend = service.Own(new VhostUserBackend(device, path, loop, options, loggers.CreateLogger("AmpCan.VhostUser")));
                backend.Start();
                instances.Add(new Instance(path, device, services, backend, loop));
            }
            return service;
        }
        catch
        {
            service.Dispose();
            throw;
        }
    }

    private T Own<T>(T d) where T : IDisposable => _owned.Push(d);

    /// <summary>Disconnects every front end (its device reset), removes the sockets, stops the loops.</summary>
    public void Dispose() => _owned.Dispose(); // last first: each back end (resetting its device) before its loop
}

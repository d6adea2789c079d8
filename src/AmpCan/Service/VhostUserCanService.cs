using AmpCan.SharedMem.Doorbells;
using AmpCan.VhostUser;
using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;
using Microsoft.Extensions.Logging;

namespace AmpCan.Host.Service;

/// <summary>
/// virtio-can served to QEMU guests over vhost-user, as rust-vmm's vhost-device-can serves it: per socket a CAN
/// controller (the same device code a resource-table vdev runs) on one in-process bus they all share, each with a loop
/// of its own. Two guests on one service exchange frames; the host joins the bus through <see cref="Bus"/>.
/// </summary>
public sealed class VhostUserCanService : IDisposable
{
    private readonly DisposalStack _owned = new();

    /// <summary>One served controller: its socket, device, back end and loop.</summary>
    public sealed record Instance(string SocketPath, VirtioCanDevice Device, VhostUserBackend Backend, NotificationLoop Loop);

    private VhostUserCanService(VirtualCanBus bus) => Bus = bus;

    /// <summary>The bus every controller is on.</summary>
    public VirtualCanBus Bus { get; }

    /// <summary>The controllers served, one per socket.</summary>
    public IReadOnlyList<Instance> Instances { get; private set; } = [];

    /// <summary>Starts one controller per path of <paramref name="socketPaths"/> on one virtual bus; on failure everything started so far is stopped.</summary>
    public static VhostUserCanService Start(IReadOnlyList<string> socketPaths, NotificationMode mode, ILoggerFactory loggers)
    {
        var service = new VhostUserCanService(new VirtualCanBus("vcan"));
        var instances = new List<Instance>();
        try
        {
            for (int i = 0; i < socketPaths.Count; i++)
            {
                string name = $"can{i}";
                var loop = service.Own(new NotificationLoop($"vhost-{name}", mode, logger: loggers.CreateLogger("AmpCan.Loop")));
                VirtualCanPort port = service.Own(service.Bus.Attach(name));
                var device = new VirtioCanDevice(name, port, loggers.CreateLogger("AmpCan.VirtioCan"));
                loop.Start();
                var backend = service.Own(new VhostUserBackend(device, socketPaths[i], loop, logger: loggers.CreateLogger("AmpCan.VhostUser")));
                backend.Start();
                instances.Add(new Instance(socketPaths[i], device, backend, loop));
            }
            service.Instances = instances;
            return service;
        }
        catch
        {
            service.Dispose();
            throw;
        }
    }

    private T Own<T>(T d) where T : IDisposable => _owned.Push(d);

    /// <summary>Disconnects every front end (its device reset), removes the sockets, leaves the bus, stops the loops.</summary>
    public void Dispose() => _owned.Dispose(); // last first: each back end (resetting its device) before its port and loop
}

using AmpCan.SharedMem.Doorbells;
using AmpCan.VhostUser;
using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;
using AmpCan.VirtioCan.SocketCan;
using Microsoft.Extensions.Logging;

namespace AmpCan.Host.Service;

/// <summary>
/// virtio-can served to QEMU guests over vhost-user, as rust-vmm's vhost-device-can serves it: per socket a CAN
/// controller (the same device code a resource-table vdev runs), each with a loop of its own, either all on one
/// in-process bus they share (two guests on one service exchange frames; the host joins through <see cref="Bus"/>) or
/// each on a SocketCAN interface of its own (<c>--can-devices</c>).
/// </summary>
public sealed class VhostUserCanService : IDisposable
{
    private readonly DisposalStack _owned = new();

    /// <summary>One served controller: its socket, device, the port it is on, back end and loop.</summary>
    public sealed record Instance(string SocketPath, VirtioCanDevice Device, ICanPort Port, VhostUserBackend Backend, NotificationLoop Loop);

    private VhostUserCanService(VirtualCanBus bus) => Bus = bus;

    /// <summary>The in-process bus the controllers without an interface are on.</summary>
    public VirtualCanBus Bus { get; }

    /// <summary>The controllers served, one per socket.</summary>
    public IReadOnlyList<Instance> Instances { get; private set; } = [];

    /// <summary>
    /// Starts one controller per path of <paramref name="socketPaths"/>: on the SocketCAN interface of the same rank in
    /// <paramref name="interfaces"/> when given (as many as sockets), else on one in-process bus; on failure everything
    /// started so far is stopped.
    /// </summary>
    /// <exception cref="ArgumentException">Interfaces are given, but not one per socket.</exception>
    public static VhostUserCanService Start(IReadOnlyList<string> socketPaths, NotificationMode mode, ILoggerFactory loggers, IReadOnlyList<string>? interfaces = null)
    {
        if (interfaces is not null && interfaces.Count != socketPaths.Count)
            throw new ArgumentException($"--can-devices names {interfaces.Count} interface(s) for {socketPaths.Count} socket(s); give one per socket", nameof(interfaces));
        var service = new VhostUserCanService(new VirtualCanBus("vcan"));
        service.Own(service.Bus); // stopped last: a paced bus has a thread
        var instances = new List<Instance>();
        try
        {
            for (int i = 0; i < socketPaths.Count; i++)
            {
                string name = interfaces?[i] ?? $"can{i}";
                var loop = service.Own(new NotificationLoop($"vhost-{name}", mode, logger: loggers.CreateLogger("AmpCan.Loop")));
                ICanPort port = service.Own<ICanPort>(interfaces is null ? service.Bus.Attach(name) : new SocketCanPort(name, logger: loggers.CreateLogger("AmpCan.SocketCan")));
                var device = new VirtioCanDevice(name, port, loggers.CreateLogger("AmpCan.VirtioCan"));
                loop.Start();
                var backend = service.Own(new VhostUserBackend(device, socketPaths[i], loop, logger: loggers.CreateLogger("AmpCan.VhostUser")));
                backend.Start();
                instances.Add(new Instance(socketPaths[i], device, port, backend, loop));
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

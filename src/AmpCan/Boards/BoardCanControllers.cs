using AmpCan.Host.Service;
using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Boards;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;
using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;
using AmpCan.VirtioCan.SocketCan;
using AmpCan.VirtioCan.Wire;
using AmpCan.Vring;
using Microsoft.Extensions.Logging;

namespace AmpCan.Host.Boards;

/// <summary>
/// The CAN controllers a board shares with its remote, served: for each virtio-can vdev in the remote's table (in
/// order, matched to the board's <c>can.controllers</c>), a <see cref="VirtioCanDevice"/> on its in-process bus or
/// SocketCAN interface, activated on the board's loop once the remote's driver sets DRIVER_OK.
/// </summary>
public sealed class BoardCanControllers : IDisposable
{
    private readonly DisposalStack _owned;
    private readonly Dictionary<string, VirtualCanBus> _buses = [];
    private readonly List<Controller> _controllers = [];

    /// <summary>One served controller: what the board says of it, its device, its port, its vdev's transport.</summary>
    public sealed record Controller(CanControllerSpec Spec, VirtioCanDevice Device, ICanPort Port, VdevDeviceTransport Transport);

    private BoardCanControllers(ILogger logger) => _owned = new DisposalStack(logger, "CAN controllers");

    /// <summary>The in-process buses, by name.</summary>
    public IReadOnlyDictionary<string, VirtualCanBus> Buses => _buses;

    /// <summary>The controllers served, in table order.</summary>
    public IReadOnlyList<Controller> Controllers => _controllers;

    /// <summary>
    /// Serves the table's virtio-can vdevs as the board names them; a vdev the board does not name, or a controller the
    /// table has no vdev for, is said once and left out.
    /// </summary>
    public static BoardCanControllers Start(BoardDescriptor board, ResourceTable table, MemoryMap memory, Doorbell bell, NotificationLoop loop,
        TimeSpan waitForDriver, ILoggerFactory loggers)
    {
        ILogger logger = loggers.CreateLogger("AmpCan.Can");
        var served = new BoardCanControllers(logger);
        try
        {
            VdevResource[] vdevs = [.. table.Vdevs.Where(v => v.DeviceId == VirtioCanIds.DeviceId)];
            IReadOnlyList<CanControllerSpec> specs = board.Can.Controllers;
            if (vdevs.Length != specs.Count)
                logger.LogWarning("board {Board}: the remote's table has {Vdevs} virtio-can vdev(s), the board names {Controllers} controller(s); serving {Served}",
                    board.Name, vdevs.Length, specs.Count, Math.Min(vdevs.Length, specs.Count));
            for (int i = 0; i < Math.Min(vdevs.Length, specs.Count); i++)
                served.Serve(board, specs[i], vdevs[i], memory, bell, loop, waitForDriver, loggers);
            return served;
        }
        catch
        {
            served.Dispose();
            throw;
        }
    }

    private void Serve(BoardDescriptor board, CanControllerSpec spec, VdevResource vdev, MemoryMap memory, Doorbell bell, NotificationLoop loop,
        TimeSpan waitForDriver, ILoggerFactory loggers)
    {
        ICanPort port = _owned.Push(PortFor(board, spec, loggers));
        var device = new VirtioCanDevice(spec.Name, port, loggers.CreateLogger("AmpCan.VirtioCan"));
        if (vdev.QueueCount < device.QueueCount)
            throw new BoardException($"board '{board.Name}': the remote's virtio-can vdev {vdev.Index} ({spec.Name}) has {vdev.QueueCount} vrings; it needs {device.QueueCount}");
        var transport = _owned.Push(new VdevDeviceTransport(new VdevTransport(vdev, memory, bell), device, loop, waitForDriver, loggers.CreateLogger("AmpCan.Can")));
        transport.Start();
        _controllers.Add(new Controller(spec, device, port, transport));
    }

    // The controller's medium: a member of its in-process bus (the bus made, paced and bridged on first use), or a
    // SocketCAN interface of its own. With a log, the log follows a member of its own on that medium.
    private ICanPort PortFor(BoardDescriptor board, CanControllerSpec spec, ILoggerFactory loggers)
    {
        ICanPort port;
        Func<ICanPort> observer;
        if (spec.Interface is string iface)
        {
            port = new SocketCanPort(iface, logger: loggers.CreateLogger("AmpCan.SocketCan"));
            observer = () => new SocketCanPort(iface, logger: loggers.CreateLogger("AmpCan.SocketCan"));
        }
        else
        {
            VirtualCanBus bus = Bus(board, spec.Bus!, loggers);
            port = bus.Attach(spec.Name);
            observer = () => bus.Attach(bus.Name);
        }
        if (spec.Log is string path)
        {
            CandumpLog log = _owned.Push(new CandumpLog(CandumpLogFile.Open(path), ownsWriter: true, logger: loggers.CreateLogger("AmpCan.Can")));
            log.Follow(observer());
        }
        return port;
    }

    private VirtualCanBus Bus(BoardDescriptor board, string name, ILoggerFactory loggers)
    {
        if (_buses.TryGetValue(name, out VirtualCanBus? bus)) return bus;
        CanBusSpec spec = board.Can.Bus(name);
        _buses[name] = bus = _owned.Push(new VirtualCanBus(name, (int)spec.Bitrate, (int)spec.DataBitrate, logger: loggers.CreateLogger("AmpCan.Can")));
        if (spec.Interface is string iface)
        {
            // Linux programs (candump, cansend, python-can) on that interface share the bus with the remote.
            _owned.Push(new CanPortBridge(bus.Attach(name), _owned.Push(new SocketCanPort(iface, logger: loggers.CreateLogger("AmpCan.SocketCan"))),
                logger: loggers.CreateLogger("AmpCan.Can")));
        }
        return bus;
    }

    /// <summary>Stops every device (its transport resets it), then leaves the buses.</summary>
    public void Dispose() => _owned.Dispose();
}

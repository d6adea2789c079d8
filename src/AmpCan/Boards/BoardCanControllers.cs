using AmpCan.Host.Service;
using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Boards;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Simulation;
using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;
using AmpCan.VirtioCan.SocketCan;
using AmpCan.VirtioCan.Wire;
using AmpCan.Vring;
using Microsoft.Extensions.Logging;

namespace AmpCan.Host.Boards;

/// <summary>
/// The CAN controllers a board shares with its remote, each one virtio-can vdev in the remote's table (in order,
/// matched to the board's <c>can.controllers</c>). One AmpCan owns is served: a <see cref="VirtioCanDevice"/> on its
/// in-process bus or SocketCAN interface, activated on the board's loop once the remote's driver sets DRIVER_OK. One
/// the remote owns is driven: a <see cref="VirtioCanDriver"/> probed on the board's loop, its controller kept started
/// (restarted after a bus-off as the board's <c>restartMs</c> says), bridged onto its bus or interface.
/// </summary>
public sealed class BoardCanControllers : IDisposable
{
    private readonly DisposalStack _owned;
    private readonly Dictionary<string, VirtualCanBus> _buses = [];
    private readonly List<Controller> _controllers = [];
    private readonly List<DrivenController> _driven = [];

    /// <summary>One served controller (AmpCan's): what the board says of it, its device, its port, its vdev's transport.</summary>
    public sealed record Controller(CanControllerSpec Spec, VirtioCanDevice Device, ICanPort Port, VdevDeviceTransport Transport, int VdevIndex);

    /// <summary>
    /// One driven controller (the remote's): what the board says of it, AmpCan's driver of the remote's device, the
    /// keeper that starts and restarts it, the bridge between it and its bus or interface.
    /// </summary>
    public sealed record DrivenController(CanControllerSpec Spec, VirtioCanDriver Driver, VirtioCanControllerKeeper Keeper, CanPortBridge Bridge);

    private BoardCanControllers(ILogger logger) => _owned = new DisposalStack(logger, "CAN controllers");

    /// <summary>The in-process buses, by name.</summary>
    public IReadOnlyDictionary<string, VirtualCanBus> Buses => _buses;

    /// <summary>The controllers AmpCan owns and serves, in table order.</summary>
    public IReadOnlyList<Controller> Controllers => _controllers;

    /// <summary>The controllers the remote owns and AmpCan drives, in table order.</summary>
    public IReadOnlyList<DrivenController> Driven => _driven;

    /// <summary>
    /// Serves or drives the table's virtio-can vdevs as the board names them; a vdev the board does not name, or a
    /// controller the table has no vdev for, is said once and left out. <paramref name="waitForDriver"/> (the board's
    /// start timeout) bounds both the wait for the remote's driver and the wait for the remote's device to START.
    /// </summary>
    /// <exception cref="BoardException">A vdev with too few vrings, or a remote-owned controller's buffers outside the shared memory or over another area (the message names both).</exception>
    /// <remarks>
    /// <paramref name="takeOver"/> (attach) names the vdevs whose controller a host before us left stopped: a device
    /// whose driver is past DRIVER_OK is taken over started unless named there (its driver sent START long ago).
    /// </remarks>
    public static BoardCanControllers Start(BoardDescriptor board, ResourceTable table, MemoryMap memory, Doorbell bell, NotificationLoop loop,
        TimeSpan waitForDriver, ILoggerFactory loggers, IReadOnlyCollection<int>? takeOver = null)
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
            int count = Math.Min(vdevs.Length, specs.Count);
            CheckDriverBuffers(board, table, specs, vdevs, count);
            for (int i = 0; i < count; i++)
            {
                if (specs[i].Owner == CanControllerOwner.Remote) served.Drive(board, i, specs[i], vdevs[i], memory, bell, loop, waitForDriver, loggers);
                else served.Serve(board, specs[i], vdevs[i], memory, bell, loop, waitForDriver, loggers, takeOver);
            }
            return served;
        }
        catch
        {
            served.Dispose();
            throw;
        }
    }

    private void Serve(BoardDescriptor board, CanControllerSpec spec, VdevResource vdev, MemoryMap memory, Doorbell bell, NotificationLoop loop,
        TimeSpan waitForDriver, ILoggerFactory loggers, IReadOnlyCollection<int>? takeOver)
    {
        ICanPort port = _owned.Push(PortFor(board, spec, loggers));
        var device = new VirtioCanDevice(spec.Name, port, loggers.CreateLogger("AmpCan.VirtioCan"))
        {
            ResumeStarted = takeOver is not null && (vdev.Status & VirtioStatus.DriverOk) != 0 && !takeOver.Contains(vdev.Index),
        };
        if (vdev.QueueCount < device.QueueCount)
            throw new BoardException($"board '{board.Name}': the remote's virtio-can vdev {vdev.Index} ({spec.Name}) has {vdev.QueueCount} vrings; it needs {device.QueueCount}");
        var transport = _owned.Push(new VdevDeviceTransport(new VdevTransport(vdev, memory, bell), device, loop, waitForDriver, loggers.CreateLogger("AmpCan.Can")));
        transport.Start();
        _controllers.Add(new Controller(spec, device, port, transport, vdev.Index));
    }

    // The buffers of AmpCan's drivers, sized by their vdevs' vrings, against the rest of the shared memory: before any
    // driver is probed, so that none writes over the table, the pool or a vring. The pool counts as the board reserves
    // it (its most; BoardHost's own check already held the pool the rings gave against the table and the vrings).
    private static void CheckDriverBuffers(BoardDescriptor board, ResourceTable table, IReadOnlyList<CanControllerSpec> specs, VdevResource[] vdevs, int count)
    {
        var areas = new List<BoardArea>();
        for (int i = 0; i < count; i++)
        {
            if (specs[i].Owner != CanControllerOwner.Remote) continue;
            RequireQueues(board, specs[i], vdevs[i]);
            areas.Add(new BoardArea($"can.controllers[{i}].bufferOffset: {specs[i].Name}'s driver buffers", specs[i].BufferOffset!.Value, BufferSize(vdevs[i])));
        }
        if (areas.Count > 0) BoardLayout.CheckAdded(board, table, board.Rpmsg.MaxPoolSize, areas);
    }

    // Every queue's entries bound what the driver lays out: the largest of the three sizes all of them.
    private static ulong BufferSize(VdevResource vdev) =>
        VirtioCanDriver.BufferMemorySize(Enumerable.Range(0, VirtioCanIds.QueueCount).Max(q => (int)vdev.Vring(q).QueueSize));

    private static void RequireQueues(BoardDescriptor board, CanControllerSpec spec, VdevResource vdev)
    {
        if (vdev.QueueCount < VirtioCanIds.QueueCount)
            throw new BoardException($"board '{board.Name}': the remote's virtio-can vdev {vdev.Index} ({spec.Name}) has {vdev.QueueCount} vrings; it needs {VirtioCanIds.QueueCount}");
    }

    // The remote's controller: AmpCan's driver is probed now (DRIVER_OK set, which the remote's device waits for), its
    // keeper STARTs it in the background, retried while the remote's device is not up yet, up to the board's start
    // timeout. Stopping goes last first: the keeper (STOP), the bridge, the log, the driver (status reset).
    private void Drive(BoardDescriptor board, int index, CanControllerSpec spec, VdevResource vdev, MemoryMap memory, Doorbell bell, NotificationLoop loop,
        TimeSpan startTimeout, ILoggerFactory loggers)
    {
        ILogger logger = loggers.CreateLogger("AmpCan.Can");
        var driver = _owned.Push(new VirtioCanDriver(spec.Name, logger: loggers.CreateLogger("AmpCan.VirtioCan")));
        IoRegion buffers = memory.Window(board.SharedMemory.DeviceAddress + spec.BufferOffset!.Value, BufferSize(vdev));
        new VdevTransport(vdev, memory, bell).ProbeDriver(driver, loop, buffers);
        int restartMs = spec.RestartMs ?? CanControllerSpec.DefaultRestartMs;
        var keeper = new VirtioCanControllerKeeper(driver, new VirtioCanControllerKeeperOptions
        {
            RestartDelay = restartMs == 0 ? null : TimeSpan.FromMilliseconds(restartMs),
            StartTimeout = startTimeout,
        }, logger);
        CandumpLog? log = null;
        if (spec.Log is string path)
        {
            try
            {
                CandumpLog.CheckInterfaceName(driver.Name);
                CandumpLog.CheckInterfaceName(spec.Interface ?? spec.Bus!); // the medium's port is named so
            }
            catch (ArgumentException e)
            {
                throw new BoardException($"board '{board.Name}': can.controllers[{index}].log: {e.Message}");
            }
            log = _owned.Push(new CandumpLog(CandumpLogFile.Open(path), ownsWriter: true, logger: logger));
        }
        ICanPort medium = MediumFor(board, spec, loggers);
        // A vcan standing for the remote's controller carries its error frames (bus-off), so candump -e there shows what
        // a real controller's interface would; a real controller's interface never gets them (they would go on the wire).
        bool errorsToMedium = spec.Interface is string face && !IsHardwareInterface(face);
        CanPortBridge bridge = _owned.Push(new CanPortBridge(keeper.Port, medium, log, logger, errorFramesFromA: errorsToMedium));
        _owned.Push(keeper).Start();
        _driven.Add(new DrivenController(spec, driver, keeper, bridge));
    }

    // A hardware interface has a device behind it in sysfs; vcan and vxcan do not. One not there yet counts as virtual:
    // the board names a vcan for a remote-owned controller.
    private static bool IsHardwareInterface(string name) => Directory.Exists($"/sys/class/net/{name}/device");

    // Where a remote-owned controller's frames go: a member of its in-process bus (named after the bus, which is how the
    // log labels frames from it), or its SocketCAN interface.
    private ICanPort MediumFor(BoardDescriptor board, CanControllerSpec spec, ILoggerFactory loggers)
    {
        if (spec.Interface is string iface) return new SocketCanPort(iface, logger: loggers.CreateLogger("AmpCan.SocketCan"));
        VirtualCanBus bus = Bus(board, spec.Bus!, loggers);
        return bus.Attach(bus.Name);
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

    /// <summary>Stops every controller (a device's transport resets it; a driven one is STOPped, unbridged, its driver reset), then leaves the buses.</summary>
    public void Dispose() => _owned.Dispose();
}

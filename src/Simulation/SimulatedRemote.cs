using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Boards;
using AmpCan.Rpmsg;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;
using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;
using AmpCan.Vring;
using AmpCan.Vring.Wire;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AmpCan.Simulation;

/// <summary>
/// A remote core in software, run the way a small RTOS would: one loop thread, the rpmsg device role, a handful
/// of services announced through the name service. Its behaviour can be scripted for tests: reply latency, silence,
/// crash, flood, garbage.
/// </summary>
public sealed class SimulatedRemote : IDisposable
{
    private readonly IoRegion _shm;
    private readonly Doorbell _doorbell;
    private readonly SimulatedFirmware _firmware;
    private readonly NotificationLoop _loop;
    private readonly SimulatedServices _services;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource<bool> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private VirtioRpmsgDevice? _device;
    private VdevDeviceTransport? _transport;
    private VirtioRpmsgRemote? _rpmsg;
    private ResourceTable? _table;
    private readonly int _cpu;
    private readonly List<SimulatedCanController> _can = [];
    private readonly CancellationTokenSource _canStop = new();
    private readonly List<Task> _canRuns = [];
    private Timer? _heartbeat;
    private SimulatedTraceWriter? _trace;

    /// <summary>
    /// Creates the remote over <paramref name="sharedMemory"/> (its whole window), its loop pinned to <paramref name="cpu"/>
    /// when that is not negative; nothing runs until <see cref="Boot"/>.
    /// </summary>
    public SimulatedRemote(IoRegion sharedMemory, Doorbell doorbell, SimulatedFirmware? firmware = null, NotificationMode mode = NotificationMode.Adaptive, ILogger? logger = null, int cpu = -1,
        SimulatedRemoteScript? script = null)
    {
        _cpu = cpu;
        _shm = sharedMemory;
        _doorbell = doorbell;
        _firmware = firmware ?? new SimulatedFirmware();
        _logger = logger ?? NullLogger.Instance;
        // A core of its own: the simulated remote does not count against the host's spinning threads.
        _loop = new NotificationLoop("remote-sim", mode, logger: _logger, allowance: new SpinAllowance(1));
        _services = new SimulatedServices(_loop, _firmware, script, _logger) { Crash = () => Crash(), InjectGarbage = InjectGarbage };
        // The device says once that the host left (its rpmsg log line); this only passes it on.
        _loop.DoorbellFailed += (_, _) => HostGone?.Invoke();
    }

    /// <summary>The loop the simulated core runs on (its one thread, like the RTOS task that services the vrings).</summary>
    public NotificationLoop Loop => _loop;

    /// <summary>Raised when the host closed the doorbell (a UNIX-socket host exited).</summary>
    public event Action? HostGone;

    /// <summary>Delay before each reply (a slow remote); part of <see cref="Script"/>.</summary>
    public TimeSpan ReplyLatency
    {
        get => _services.ReplyLatency;
        set => _services.ReplyLatency = value;
    }

    /// <summary>Scripted misbehaviour, counted over the messages the echo and raw services receive.</summary>
    public SimulatedRemoteScript Script
    {
        get => _services.Script;
        set => _services.Script = value;
    }

    /// <summary>When set, services swallow messages without answering (a hung task).</summary>
    public bool Silent
    {
        get => _services.Silent;
        set => _services.Silent = value;
    }

    /// <summary>True once the host set DRIVER_OK and the services are announced; false if the host never came or the boot failed.</summary>
    public Task<bool> Ready => _ready.Task;

    /// <summary>Why the boot failed (the host broke the protocol, say), or null.</summary>
    public Exception? BootFailure { get; private set; }

    /// <summary>The remote's rpmsg device (after <see cref="Boot"/>).</summary>
    public VirtioRpmsgRemote Rpmsg => _rpmsg ?? throw new InvalidOperationException("the simulated remote has not booted");

    /// <summary>The firmware's CAN controllers, one per virtio-can vdev, in table order (after <see cref="Boot"/>).</summary>
    public IReadOnlyList<SimulatedCanController> CanControllers => _can;

    /// <summary>
    /// The firmware's CAN nodes, one per virtio-can vdev in table order (after <see cref="Boot"/>): on its driver of a
    /// controller AmpCan owns, the ECU on the remote's own bus for one the remote owns.
    /// </summary>
    public IReadOnlyList<SimulatedCanNode> CanNodes => [.. _can.Select(c => c.Node)];

    /// <summary>The firmware's virtio-can drivers of the controllers AmpCan owns, in table order (after <see cref="Boot"/>).</summary>
    public IReadOnlyList<VirtioCanDriver> CanDrivers => [.. _can.Where(c => c.Driver is not null).Select(c => c.Driver!)];

    /// <summary>Echo endpoint, counter endpoint and raw endpoint, once ready.</summary>
    public RpmsgEndpoint? Echo => _services.Echo;
    /// <inheritdoc cref="Echo"/>
    public RpmsgEndpoint? Sample => _services.Sample;
    /// <inheritdoc cref="Echo"/>
    public RpmsgEndpoint? Raw => _services.Raw;

    /// <summary>
    /// "Boots" the firmware: writes its resource table (unless already written, see <paramref name="writeTable"/>), starts the loop and waits (in the background, up to
    /// <paramref name="waitForHost"/>) for DRIVER_OK, then announces the services.
    /// </summary>
    public void Boot(TimeSpan waitForHost, bool writeTable = true)
    {
        if (writeTable) _shm.Write(_firmware.TableOffset, _firmware.ResourceTable(_shm.DeviceAddress));
        ResourceTable table = _table = ResourceTable.Parse(_shm.Slice(_firmware.TableOffset, 0x1000));
        if (table.Traces.Count > 0 && _shm.Contains(table.Traces[0].DeviceAddress - _shm.DeviceAddress, table.Traces[0].Length))
        {
            _trace = new SimulatedTraceWriter(_shm.Slice(table.Traces[0].DeviceAddress - _shm.DeviceAddress, table.Traces[0].Length));
            _trace.WriteLine($"remote-sim: boot, {table.Vdevs.Count} vdev(s), waiting for the host");
        }
        _device = new VirtioRpmsgDevice("remote-sim", logger: _logger);
        // The firmware's services go on the bus the moment the device is activated, on the transport's thread.
        _device.Activated += bus =>
        {
            _rpmsg = bus;
            _services.Announce(bus);
            _trace?.WriteLine("remote-sim: rpmsg up, services announced");
        };
        _transport = new VdevDeviceTransport(new VdevTransport(table.Vdevs[0], new MemoryMap(_shm), _doorbell), _device, _loop, waitForHost, _logger);
        _loop.Start(_cpu);
        _transport.Start();
        if (_firmware.HeartbeatOffset is ulong beat)
        {
            // The firmware's watchdog task: a word in shared memory, added to until the core dies.
            IoRegion word = _shm.Slice(beat, 4);
            _heartbeat = new Timer(_ => word.WriteU32Release(0, word.ReadU32Acquire(0) + 1), null, TimeSpan.Zero, _firmware.HeartbeatPeriod);
        }
        BootCan(table, waitForHost);
        _transport.Activation.ContinueWith(t =>
        {
            if (t.IsCompletedSuccessfully)
            {
                _ready.TrySetResult(t.Result);
                return;
            }
            // A hostile or broken host (buffers it cannot use, say) fails the device; the remote reports it, it does not crash.
            Exception e = t.Exception?.InnerException ?? new OperationCanceledException("the boot was cancelled");
            _logger.LogError("simulated remote: boot failed: {Reason}", e.Message);
            BootFailure = e;
            _ready.TrySetResult(false);
        }, TaskScheduler.Default);
    }

    // One controller per virtio-can vdev, its node running at once as an RTOS's CAN task would: a controller AmpCan owns
    // is driven, one the remote owns is served.
    private void BootCan(ResourceTable table, TimeSpan waitForHost)
    {
        VdevResource[] vdevs = [.. table.Vdevs.Where(v => v.DeviceId == SimulatedFirmware.CanDeviceId)];
        var memory = new MemoryMap(_shm);
        for (int i = 0; i < Math.Min(vdevs.Length, _firmware.CanControllers); i++)
        {
            SimulatedCanController controller = _firmware.RemoteOwnsCan(i) ? ServeCan(i, vdevs[i], memory, waitForHost) : DriveCan(i, vdevs[i], memory);
            _can.Add(controller);
            _canRuns.Add(controller.Node.RunAsync(_canStop.Token));
        }
    }

    // AmpCan serves the device: the firmware's driver is probed at once, on the remote's loop, with its buffers in the
    // controller's area; its node STARTs the controller and keeps waiting until the host's device answers.
    private SimulatedCanController DriveCan(int index, VdevResource vdev, MemoryMap memory)
    {
        var driver = new VirtioCanDriver($"remote-can{index}", logger: _logger);
        (ulong offset, ulong size) = _firmware.CanBufferArea(index);
        new VdevTransport(vdev, memory, _doorbell).ProbeDriver(driver, _loop, _shm.Slice(offset, size));
        var node = new SimulatedCanNode(driver, new SimulatedCanNodeOptions { NodeId = index + 1 }, _logger);
        return new SimulatedCanController(index, CanControllerOwner.Host, node) { Driver = driver };
    }

    // The remote's own controller: its device, on a bus standing for the wire the controller is on, waits in the
    // background for AmpCan's driver (DRIVER_OK) and is served on the remote's loop; an ECU on that bus answers and
    // beats whether or not AmpCan has started the controller, as a real one would.
    private SimulatedCanController ServeCan(int index, VdevResource vdev, MemoryMap memory, TimeSpan waitForHost)
    {
        var bus = new VirtualCanBus($"remote-can{index}", logger: _logger);
        var device = new VirtioCanDevice($"remote-can{index}", bus.Attach($"remote-can{index}"), _logger);
        var transport = new VdevDeviceTransport(new VdevTransport(vdev, memory, _doorbell), device, _loop, waitForHost, _logger);
        transport.Start();
        var ecu = new SimulatedCanNode(bus.Attach("ecu"), new SimulatedCanNodeOptions { NodeId = index + 1 }, _logger);
        return new SimulatedCanController(index, CanControllerOwner.Remote, ecu) { Device = device, Bus = bus, Transport = transport };
    }

    /// <summary>
    /// Sends <paramref name="count"/> messages of <paramref name="size"/> bytes to <paramref name="destination"/> as fast
    /// as buffers allow, from the remote's loop (without blocking it).
    /// </summary>
    public void Flood(uint destination, int count, int size) => _services.Flood(destination, count, size);

    /// <summary>Writes garbage of the given kind where the host will read it, and kicks.</summary>
    public void InjectGarbage(GarbageKind kind)
    {
        switch (kind)
        {
            case GarbageKind.UsedRing:
            {
                var ring = SplitRing.Legacy(new MemoryMap(_shm), _shm.DeviceAddress + _firmware.Vring0Offset, _firmware.QueueSize, _firmware.Align);
                byte[] junk = new byte[ring.Used.Length];
                Random.Shared.NextBytes(junk);
                ushort idx = ring.Used.ReadU16(SplitRingOffsets.Index);
                ring.Used.Write(0, junk);
                ring.Used.WriteU16Release(SplitRingOffsets.Index, (ushort)(idx + 1 + Random.Shared.Next(1, 1000)));
                _doorbell.Ring(1);
                break;
            }
            case GarbageKind.OversizedHeader:
            {
                byte[] hdr = new byte[16];
                new AmpCan.Rpmsg.Wire.RpmsgHeader(Raw?.Address ?? 0x400, RpmsgAddress.FirstDynamic, 0, 4000, 0).Write(hdr);
                Rpmsg.InjectRaw(hdr, 16 + 8);
                break;
            }
            case GarbageKind.NameService:
                (Raw ?? throw new InvalidOperationException("the simulated remote is not ready")).SendTo(RpmsgAddress.NameService, new byte[39]);
                break;
        }
    }

    /// <summary>
    /// The core crashes: its loop stops dead, nothing is answered or announced any more. With
    /// <see cref="SimulatedCrash.Fault"/> its fatal-error handler first marks the devices it serves DEVICE_NEEDS_RESET
    /// (as a firmware's handler may, so that the host need not wait for a watchdog).
    /// </summary>
    public void Crash(SimulatedCrash kind = SimulatedCrash.Hang)
    {
        _logger.LogWarning("simulated remote: crash ({Kind})", kind);
        _trace?.WriteLine($"remote-sim: fatal error ({kind}), halting");
        StopHeartbeat(); // its heart stops with it
        if (kind == SimulatedCrash.Fault && _table is not null)
            foreach (VdevResource vdev in _table.Vdevs.Where(v => v.DeviceId == VirtioRpmsg.DeviceId))
                vdev.Status |= VirtioStatus.DeviceNeedsReset; // the rpmsg device is the firmware's own
        _loop.Dispose();
    }

    // Waits for a beat in flight: the shared memory it writes may be unmapped right after.
    private void StopHeartbeat()
    {
        Timer? t = Interlocked.Exchange(ref _heartbeat, null);
        if (t is null) return;
        using var stopped = new ManualResetEvent(false);
        if (t.Dispose(stopped)) stopped.WaitOne();
    }

    /// <summary>Stops the remote.</summary>
    public void Dispose()
    {
        StopHeartbeat();
        // The drivers go first: a node's STOP then ends at once instead of waiting for a host that may be gone already.
        _canStop.Cancel();
        foreach (SimulatedCanController c in _can) c.Driver?.Dispose();
        try { Task.WaitAll([.. _canRuns], TimeSpan.FromSeconds(10)); }
        catch (AggregateException) { } // a node's failure was its own; stopping goes on
        // The remote's own devices leave the loop before it stops (their transports reset them), then their buses stop.
        foreach (SimulatedCanController c in _can)
        {
            c.Transport?.Dispose();
            c.Bus?.Dispose();
        }
        _loop.Dispose();
        if (_transport is not null) _transport.Dispose();
        else _device?.Reset();
    }
}

using AmpCan.Remoteproc;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Simulation;
using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;
using AmpCan.VirtioCan.Wire;
using AmpCan.Vring;

namespace AmpCan.Host.Bench;

/// <summary>
/// The sim board's virtio-can transport in one process: a memfd holding a resource table with one virtio-can vdev as the
/// simulated firmware declares it (three 256-entry legacy vrings, align 0x1000, its features, a 2-byte config), the
/// driver's buffers after the vrings, an eventfd doorbell pair, the
/// driver probed through <see cref="VdevTransport.ProbeDriver"/> on a loop pinned to CPU 0 and a
/// <see cref="VirtioCanDevice"/> activated by a <see cref="VdevDeviceTransport"/> on a loop pinned to CPU 1, the device
/// a member of a <see cref="VirtualCanBus"/>. The controller is started when the constructor returns.
/// </summary>
internal sealed class CanTestbed : IDisposable
{
    private const ulong DeviceBase = 0x3000_0000;
    private const ulong VringsAt = 0x4000;
    private const ulong RegionSize = 0x80000;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private readonly MappedRegion _region;
    private readonly CountingDoorbell _driverBell = null!, _deviceBell = null!;
    private readonly VdevDeviceTransport _deviceTransport;
    private readonly List<NotificationLoop> _loops = [];

    /// <param name="name">Names the memfd, the bus and the loops.</param>
    /// <param name="mode">How both loops wait.</param>
    /// <param name="lateTxAck">Whether the driver accepts LATE_TX_ACK (the device always offers it).</param>
    /// <param name="bitrate">The bus's bit rate (0: unpaced).</param>
    /// <param name="oneLoop">Driver and device on one loop (CPU 0): what the path costs in software, without a cache line crossing cores.</param>
    public CanTestbed(string name, NotificationMode mode, bool lateTxAck, int bitrate = 0, bool oneLoop = false)
    {
        var firmware = new SimulatedFirmware();
        _region = MappedRegion.CreateMemfd(name, RegionSize, DeviceBase);
        try
        {
            var memory = new MemoryMap(_region.Io);
            // The vrings each start on an alignment boundary (SimulatedFirmware.CanVringOffset does not round up to it).
            ulong stride = AlignUp((ulong)VringLayout.LegacySize(firmware.CanQueueSize, firmware.Align), firmware.Align);
            VringSpec[] rings = [.. Enumerable.Range(0, VirtioCanIds.QueueCount).Select(q =>
                new VringSpec(checked((uint)(DeviceBase + VringsAt + (ulong)q * stride)), firmware.Align, (uint)firmware.CanQueueSize, (uint)(3 + q)))];
            _region.Io.Write(0, new ResourceTableBuilder().Vdev(SimulatedFirmware.CanDeviceId, 100, firmware.CanFeatures, rings, new byte[VirtioCanConfig.Size]).Build());
            VdevResource vdev = ResourceTable.Parse(_region.Io.Slice(0, VringsAt)).Vdevs.Single();
            ulong buffersAt = VringsAt + (ulong)VirtioCanIds.QueueCount * stride;
            (EventFdDoorbell driverEnd, EventFdDoorbell deviceEnd) = EventFdDoorbell.CreatePair();
            (_driverBell, _deviceBell) = (new CountingDoorbell(driverEnd), new CountingDoorbell(deviceEnd));
            DriverLoop = StartLoop($"{name}-driver", mode, cpu: 0, Faults);
            DeviceLoop = oneLoop ? DriverLoop : StartLoop($"{name}-device", mode, cpu: 1, Faults);
            _loops.Add(DriverLoop);
            if (!oneLoop) _loops.Add(DeviceLoop);

            Bus = new VirtualCanBus(name, bitrate);
            DevicePort = Bus.Attach($"{name}-device");
            Device = new VirtioCanDevice($"{name}-device", DevicePort);
            var options = lateTxAck ? new VirtioCanDriverOptions()
                : new VirtioCanDriverOptions { SupportedFeatures = VirtioCanDriverOptions.AllFeatures & ~VirtioCanFeatures.Mask(VirtioCanFeatures.LateTxAck) };
            Driver = new VirtioCanDriver($"{name}-driver", options);

            // As on the sim board: the remote's side waits for DRIVER_OK in the background while the other side probes.
            _deviceTransport = new VdevDeviceTransport(new VdevTransport(vdev, memory, _deviceBell), Device, DeviceLoop, Patience);
            _deviceTransport.Start();
            ulong needed = VirtioCanDriver.BufferMemorySize(firmware.CanQueueSize, options);
            if (buffersAt + needed > RegionSize)
                throw new BenchmarkFailedException($"the driver needs 0x{needed:x} bytes of buffers from 0x{buffersAt:x}; the memfd has 0x{RegionSize:x}");
            new VdevTransport(vdev, memory, _driverBell).ProbeDriver(Driver, DriverLoop, _region.Io.Slice(buffersAt, needed));
            if (!_deviceTransport.Activation.Wait(Patience) || !_deviceTransport.Activation.Result)
                throw new BenchmarkFailedException($"{name}: the device was not activated within {Patience.TotalSeconds} s");
            if (Driver.LateTxAck != lateTxAck)
                throw new BenchmarkFailedException($"{name}: LATE_TX_ACK negotiated {Driver.LateTxAck}, wanted {lateTxAck}");
            Task<bool> start = Driver.StartAsync();
            if (!start.Wait(Patience) || !start.Result) throw new BenchmarkFailedException($"{name}: the device did not answer START with OK");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Faults of this testbed's loops: whoever waits for a run gives up at the first.</summary>
    public CaseFaults Faults { get; } = new();

    /// <summary>The driver's loop (CPU 0).</summary>
    public NotificationLoop DriverLoop { get; } = null!;

    /// <summary>The device's loop (CPU 1); the bench's bus members run on it too.</summary>
    public NotificationLoop DeviceLoop { get; } = null!;

    /// <summary>The bus the device is a member of.</summary>
    public VirtualCanBus Bus { get; } = null!;

    /// <summary>Notifications the driver's side sent the device (kicks), since the testbed was made.</summary>
    public long DriverRings => _driverBell.Rings;

    /// <summary>Notifications the device's side sent the driver (used buffers, configuration changes), since the testbed was made.</summary>
    public long DeviceRings => _deviceBell.Rings;

    /// <summary>The device's port on the bus.</summary>
    public VirtualCanPort DevicePort { get; } = null!;

    /// <summary>The device (AmpCan's side).</summary>
    public VirtioCanDevice Device { get; } = null!;

    /// <summary>The driver (the remote's side), a CAN port once started.</summary>
    public VirtioCanDriver Driver { get; } = null!;

    /// <summary>Throws <see cref="BenchmarkFailedException"/> if a loop faulted or either side counted a frame it could not carry.</summary>
    public void ThrowIfUnclean(string what)
    {
        Faults.ThrowIfFaulted();
        if (Driver.Fault is Exception e) throw new BenchmarkFailedException($"{what}: the driver failed: {e.Message}", e);
        VirtioCanDriverCounters c = Driver.Counters;
        if (c.TransmitsFailed != 0 || c.MalformedReceives != 0 || Driver.Dropped != 0)
            throw new BenchmarkFailedException($"{what}: the driver counted {c.TransmitsFailed} transmits answered NOT_OK, {c.MalformedReceives} malformed receive buffers, {Driver.Dropped} frames dropped");
        if (Device.Rejected != 0 || Device.Dropped != 0 || Device.StrayEchoes != 0)
            throw new BenchmarkFailedException($"{what}: the device rejected {Device.Rejected} transmits, dropped {Device.Dropped} frames from the bus, saw {Device.StrayEchoes} stray echoes");
        foreach (VirtualCanPort p in Bus.Ports)
            if (p.Dropped != 0) throw new BenchmarkFailedException($"{what}: bus member {p.Name} dropped {p.Dropped} frames (its queue was full)");
    }

    /// <summary>
    /// A loop standing for a core of its own (it spins against an allowance of its own, as the vring bench's), pinned
    /// to <paramref name="cpu"/>, its faults reported to <paramref name="faults"/>.
    /// </summary>
    public static NotificationLoop StartLoop(string name, NotificationMode mode, int cpu, CaseFaults faults)
    {
        var loop = new NotificationLoop(name, mode, TimeSpan.FromMicroseconds(50), allowance: new SpinAllowance(1));
        faults.Watch(loop);
        loop.Start(cpu);
        return loop;
    }

    private static ulong AlignUp(ulong value, ulong align) => (value + align - 1) / align * align;

    public void Dispose()
    {
        Driver?.Dispose();
        _deviceTransport?.Dispose();
        foreach (NotificationLoop loop in _loops) loop.Dispose();
        Bus?.Dispose();
        _driverBell?.Dispose();
        _deviceBell?.Dispose();
        _region.Dispose();
    }
}

using AmpCan.Remoteproc;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;
using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;
using AmpCan.Vring;

namespace AmpCan.Tests.VirtioCan;

/// <summary>
/// Both roles of one virtio-can vdev over one memfd: the resource table at 0, three vrings at 0x4000, 0x8000 and
/// 0xC000, the driver's buffers from 0x10000; an eventfd doorbell pair, the driver's loop and the device's loop. The
/// driver is probed with <see cref="VdevTransport.ProbeDriver"/>, the device (a <see cref="VirtioCanDevice"/> on a
/// <see cref="VirtualCanBus"/> with one other member, or a test playing the device by hand) from the other side.
/// </summary>
internal sealed class CanVdevPair : IDisposable
{
    public const ulong Base = 0x3000_0000;
    public const ulong BuffersAt = 0x10000;
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    public readonly MappedRegion Shm;
    /// <summary>The window both roles use: the memfd's own view, or the same memory treated as device memory.</summary>
    public readonly IoRegion Window;
    public readonly MemoryMap Memory;
    public readonly VdevResource Vdev;
    public readonly EventFdDoorbell DriverBell, DeviceBell;
    public readonly NotificationLoop DriverLoop, DeviceLoop;
    public readonly VirtualCanBus Bus;
    public readonly VirtualCanPort Other;
    public readonly VirtioCanDriver Driver;
    public readonly int QueueSize;
    private readonly List<Exception> _faults = [];
    private IVirtioDevice? _served;

    /// <param name="name">Names the memfd and the bus.</param>
    /// <param name="offered">What the vdev offers (the table's dfeatures).</param>
    /// <param name="options">The driver's options.</param>
    /// <param name="queueSize">Entries of each vring.</param>
    /// <param name="bus">The bus the device joins (another pair's, say); null: a bus of its own.</param>
    /// <param name="deviceMemory">Both roles see the memory as device memory (aligned word copies, no spans), as through /dev/mem.</param>
    public CanVdevPair(string name, ulong offered, VirtioCanDriverOptions? options = null, int queueSize = 64, VirtualCanBus? bus = null, bool deviceMemory = false)
    {
        QueueSize = queueSize;
        Shm = MappedRegion.CreateMemfd(name, 0x80000, Base);
        Window = deviceMemory ? Shm.Io.AsDeviceMemory() : Shm.Io;
        Memory = new MemoryMap(Window);
        VringSpec[] rings = [.. Enumerable.Range(0, 3).Select(i => new VringSpec((uint)(Base + 0x4000 + (ulong)i * 0x4000), 0x1000, (uint)queueSize, (uint)i))];
        Window.Write(0, new ResourceTableBuilder().Vdev(36, 3, (uint)offered, rings, new byte[2]).Build());
        Vdev = ResourceTable.Parse(Window.Slice(0, 0x1000)).Vdevs[0];
        (DriverBell, DeviceBell) = EventFdDoorbell.CreatePair();
        DriverLoop = new NotificationLoop($"{name}-driver", NotificationMode.Adaptive);
        DeviceLoop = new NotificationLoop($"{name}-device", NotificationMode.Adaptive);
        DriverLoop.HandlerFaulted += (_, e) => { lock (_faults) _faults.Add(e); };
        DeviceLoop.HandlerFaulted += (_, e) => { lock (_faults) _faults.Add(e); };
        DriverLoop.Start();
        DeviceLoop.Start();
        Bus = bus ?? new VirtualCanBus(name);
        Other = Bus.Attach($"{name}-other");
        Driver = new VirtioCanDriver("can-driver", options);
    }

    /// <summary>Exceptions a handler threw on either loop (each cost a handler: there must be none).</summary>
    public IReadOnlyList<Exception> LoopFaults
    {
        get { lock (_faults) return [.. _faults]; }
    }

    /// <summary>The driver's side of the vdev.</summary>
    public VdevTransport DriverTransport => new(Vdev, Memory, DriverBell);

    /// <summary>The device's side of the vdev.</summary>
    public VdevTransport DeviceTransport => new(Vdev, Memory, DeviceBell);

    /// <summary>Probes the driver (DRIVER_OK is set when this returns); its buffers from <see cref="BuffersAt"/>.</summary>
    public void ProbeDriver() =>
        DriverTransport.ProbeDriver(Driver, DriverLoop, Window.Slice(BuffersAt, VirtioCanDriver.BufferMemorySize(QueueSize)));

    /// <summary>
    /// Probes the driver and activates a <see cref="VirtioCanDevice"/> offering <paramref name="deviceFeatures"/> on the bus
    /// (the transport keeps the table's config bytes current and rings the vdev's notify id on a change).
    /// </summary>
    public VirtioCanDevice Connect(ulong deviceFeatures)
    {
        var device = new VirtioCanDevice("can-device", Bus.Attach("can-device")) { DeviceFeatures = deviceFeatures };
        ProbeDriver();
        _served = device;
        Assert.That(DeviceTransport.ActivateDevice(device, DeviceLoop, Patience), Is.True, "the device saw DRIVER_OK");
        return device;
    }

    /// <summary>Waits for <paramref name="condition"/> (polling; the loops do the work), failing after <see cref="Patience"/>.</summary>
    public static void Until(Func<bool> condition, string what)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > Patience) throw new AssertionException($"not within {Patience.TotalSeconds} s: {what}");
            Thread.Yield();
        }
    }

    /// <summary>The next frame <paramref name="port"/> takes, within <see cref="Patience"/>.</summary>
    public static CanFrame Next(ICanPort port, string what)
    {
        CanFrame frame = default;
        Until(() => port.TryReceive(out frame), what);
        return frame;
    }

    /// <summary>Waits for a task the loops complete.</summary>
    public static T Await<T>(Task<T> task, string what)
    {
        Assert.That(task.Wait(Patience), Is.True, $"not within {Patience.TotalSeconds} s: {what}");
        return task.Result;
    }

    public void Dispose()
    {
        Driver.Dispose();
        _served?.Reset();
        DriverLoop.Dispose();
        DeviceLoop.Dispose();
        DriverBell.Dispose();
        DeviceBell.Dispose();
        Shm.Dispose();
    }
}

using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Vring;

namespace AmpCan.Host.Bench;

/// <summary>A memfd with one 256-entry legacy ring (align 4096) and two 128 KiB buffer pools, and an eventfd doorbell pair.</summary>
internal sealed class VringTestbed : IDisposable
{
    public const int QueueSize = 256;
    public const ulong Align = 4096;
    public const ulong DeviceBase = 0x1000_0000;
    public const ulong ReadPool = 0x10000, WritePool = 0x50000, Slot = 512;

    public readonly MappedRegion Region = MappedRegion.CreateMemfd("bench", 0x100000, DeviceBase);
    public readonly MemoryMap Memory;
    public readonly SplitRing Ring;
    public readonly EventFdDoorbell DriverBell, DeviceBell;
    private readonly List<NotificationLoop> _loops = [];

    public VringTestbed()
    {
        Memory = new MemoryMap(Region.Io);
        Ring = SplitRing.Legacy(Region.Io.Slice(0, VringLayout.LegacySize(QueueSize, Align)), QueueSize, Align);
        Ring.Clear();
        (DriverBell, DeviceBell) = EventFdDoorbell.CreatePair();
    }

    public IoRegion Io => Region.Io;

    /// <summary>Faults of this testbed's loops: a client waiting for its run gives up at the first.</summary>
    public CaseFaults Faults { get; } = new();

    public NotificationLoop StartLoop(string name, NotificationMode mode, INotificationHandler handler, Doorbell bell, int cpu)
    {
        // Driver and device stand for two cores (the host and the remote): each loop spins against an allowance of its own.
        var loop = new NotificationLoop(name, mode, TimeSpan.FromMicroseconds(50), allowance: new SpinAllowance(1));
        Faults.Watch(loop);
        loop.Add(handler, bell);
        loop.Start(cpu);
        _loops.Add(loop);
        return loop;
    }

    public void Dispose()
    {
        foreach (NotificationLoop loop in _loops) loop.Dispose();
        DriverBell.Dispose();
        DeviceBell.Dispose();
        Region.Dispose();
    }
}

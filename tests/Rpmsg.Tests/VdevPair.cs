using AmpCan.Remoteproc;
using AmpCan.Rpmsg;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;

namespace AmpCan.Tests.Rpmsg;

/// <summary>
/// Both sides of one rpmsg vdev with nothing bound yet, laid out as <see cref="RpmsgLink"/>'s (table at 0, vrings of 256
/// at 0x4000 and 0x8000, host buffers from 0x10000), each side with its transport and its running loop: for tests that
/// bind the driver and the device themselves.
/// </summary>
internal sealed class VdevPair : IDisposable
{
    public readonly MappedRegion Shm;
    public readonly MemoryMap Memory;
    public readonly VdevResource Vdev;
    public readonly EventFdDoorbell HostBell, RemoteBell;
    public readonly NotificationLoop HostLoop, RemoteLoop;

    public VdevPair(string name)
    {
        Shm = MappedRegion.CreateMemfd(name, 0x80000, RpmsgLink.Base);
        Memory = new MemoryMap(Shm.Io);
        Shm.Io.Write(0, new ResourceTableBuilder().Vdev(VirtioRpmsg.DeviceId, 0, (uint)VirtioRpmsgDevice.DefaultFeatures,
            [new VringSpec((uint)RpmsgLink.Base + 0x4000, 0x1000, 256, 1), new VringSpec((uint)RpmsgLink.Base + 0x8000, 0x1000, 256, 2)]).Build());
        Vdev = ResourceTable.Parse(Shm.Io.Slice(0, 0x1000)).Vdevs[0];
        (HostBell, RemoteBell) = EventFdDoorbell.CreatePair();
        HostLoop = new NotificationLoop("host", NotificationMode.Adaptive);
        RemoteLoop = new NotificationLoop("remote", NotificationMode.Adaptive);
        HostLoop.Start();
        RemoteLoop.Start();
    }

    /// <summary>The host's side of the vdev (driver role).</summary>
    public VdevTransport HostTransport => new(Vdev, Memory, HostBell);

    /// <summary>The remote's side of the vdev (device role).</summary>
    public VdevTransport RemoteTransport => new(Vdev, Memory, RemoteBell);

    /// <summary>Where the host's buffer pool starts.</summary>
    public IoRegion Pool(ulong size) => Shm.Io.Slice(0x10000, size);

    public void Dispose()
    {
        HostLoop.Dispose();
        RemoteLoop.Dispose();
        HostBell.Dispose();
        RemoteBell.Dispose();
        Shm.Dispose();
    }
}

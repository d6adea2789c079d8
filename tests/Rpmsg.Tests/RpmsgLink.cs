using AmpCan.Remoteproc;
using AmpCan.Rpmsg;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Vring;

namespace AmpCan.Tests.Rpmsg;

/// <summary>
/// A host and a remote over one memfd laid out like OpenAMP's Linux port: resource table at 0, vrings of 256 at
/// 0x4000 (remote→host) and 0x8000 (host→remote), host buffers from 0x10000; each side on its own loop with eventfd kicks.
/// </summary>
internal sealed class RpmsgLink : IDisposable
{
    public const ulong Base = 0x3000_0000;
    public readonly MappedRegion Shm = MappedRegion.CreateMemfd("rpmsg-link", 0x80000, Base);
    public readonly MemoryMap Memory;
    public readonly VdevResource Vdev;
    public readonly VirtioRpmsgHost Host;
    public readonly VirtioRpmsgRemote Remote;
    public readonly NotificationLoop HostLoop, RemoteLoop;
    public readonly EventFdDoorbell HostBell, RemoteBell;

    public RpmsgLink(uint features = 1u << VirtioRpmsg.FeatureNameService, RpmsgHostOptions? hostOptions = null, bool startRemote = true,
        NotificationMode mode = NotificationMode.Adaptive, TimeSpan? sendTimeout = null, Microsoft.Extensions.Logging.ILogger? hostLogger = null)
    {
        Memory = new MemoryMap(Shm.Io);
        byte[] table = new ResourceTableBuilder()
            .Vdev(VirtioRpmsg.DeviceId, 0, features, [new VringSpec((uint)Base + 0x4000, 0x1000, 256, 1), new VringSpec((uint)Base + 0x8000, 0x1000, 256, 2)])
            .Build();
        Shm.Io.Write(0, table);
        Vdev = ResourceTable.Parse(Shm.Io.Slice(0, 0x1000)).Vdevs[0];
        hostOptions = (hostOptions ?? new RpmsgHostOptions()).ForRings(256, 256);
        hostOptions = hostOptions with { SendTimeout = sendTimeout ?? hostOptions.SendTimeout };
        (HostBell, RemoteBell) = EventFdDoorbell.CreatePair();
        HostLoop = new NotificationLoop("host", mode, TimeSpan.FromMicroseconds(20));
        RemoteLoop = new NotificationLoop("remote", mode, TimeSpan.FromMicroseconds(20));
        HostLoop.Start();
        RemoteLoop.Start();
        var driver = new VirtioRpmsgDriver("host", hostOptions, hostLogger);
        new VdevTransport(Vdev, Memory, HostBell).ProbeDriver(driver, HostLoop, Shm.Io.Slice(0x10000, hostOptions.PoolSize));
        Host = driver.Bus!;
        // The remote's bus is made here and started (handed to its loop) only when asked: until then it stands where a
        // remote does between DRIVER_OK and its first pass.
        VirtioDeviceContext context = new VdevTransport(Vdev, Memory, RemoteBell).WaitForDriver(VirtioRpmsgDevice.DefaultFeatures, RemoteLoop, TimeSpan.FromSeconds(30))
            ?? throw new TimeoutException("the remote did not see DRIVER_OK");
        Remote = new VirtioRpmsgRemote("remote", context, new RpmsgRemoteOptions { SendTimeout = sendTimeout });
        if (startRemote) Remote.Start();
    }

    /// <summary>A device-role queue over the host's receive ring, for playing a hostile remote by hand.</summary>
    public SplitVirtqueueDevice RawRemoteTx() => new(SplitRing.Legacy(Memory, Base + 0x4000, 256, 0x1000), Memory, eventIndex: false, indirectDescriptors: false);

    public void Dispose()
    {
        HostLoop.Dispose();
        RemoteLoop.Dispose();
        Host.Dispose();
        Remote.Dispose();
        HostBell.Dispose();
        RemoteBell.Dispose();
        Shm.Dispose();
    }

    public static T Await<T>(Task<T> t, string what)
    {
        if (!t.Wait(TimeSpan.FromSeconds(20))) Assert.Fail($"timed out waiting for {what}");
        return t.Result;
    }
}

using AmpCan.Remoteproc;
using AmpCan.Rpmsg;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Vring;

namespace AmpCan.Tests.ArmVm;

/// <summary>
/// The remote role of the guest's rpmsg bus, on the host's mapping of the second ivshmem file: it writes the resource
/// table (vdev with two vrings, as a firmware would) before the guest boots, waits for the guest's DRIVER_OK, then runs
/// VirtioRpmsgRemote with an announced echo endpoint that checks every message byte for byte before echoing it.
/// Polled on a loop of its own (ivshmem-plain has no interrupts), started only once the guest's driver is up.
/// </summary>
internal sealed class RpmsgRemotePeer : IDisposable
{
    private readonly MemoryMap _memory;
    private readonly VdevResource _vdev;
    private readonly NotificationLoop _loop = new("armvm-remote", NotificationMode.Polling);
    private readonly PollingDoorbell _doorbell = new();
    private readonly Thread _thread;
    private readonly CancellationTokenSource _stop = new();
    private bool _disposed;
    private VirtioRpmsgRemote? _remote;
    private int _echoed, _mismatched;
    private string? _firstMismatch;

    public RpmsgRemotePeer(MappedRegion shm)
    {
        _memory = new MemoryMap(shm.Io);
        uint b = (uint)ArmVmLayout.DeviceBase;
        byte[] table = new ResourceTableBuilder()
            .Vdev(VirtioRpmsg.DeviceId, 0, 1u << VirtioRpmsg.FeatureNameService,
                [new VringSpec(b + (uint)ArmVmLayout.RpmsgVring0, 0x1000, ArmVmLayout.RpmsgRingSize, 1), new VringSpec(b + (uint)ArmVmLayout.RpmsgVring1, 0x1000, ArmVmLayout.RpmsgRingSize, 2)])
            .Build();
        shm.Io.Write(ArmVmLayout.ResourceTableOffset, table);
        _vdev = ResourceTable.Parse(shm.Io.Slice(ArmVmLayout.ResourceTableOffset, 0x1000)).Vdevs[0];
        _thread = new Thread(Run) { Name = "armvm-rpmsg-remote", IsBackground = true };
    }

    /// <summary>Messages checked and echoed.</summary>
    public int Echoed => Volatile.Read(ref _echoed);

    /// <summary>Messages whose bytes were not what the guest should have sent.</summary>
    public int Mismatched => Volatile.Read(ref _mismatched);

    /// <summary>The first of them, described.</summary>
    public string? FirstMismatch => Volatile.Read(ref _firstMismatch);

    /// <summary>True once the guest's driver set DRIVER_OK and the remote started.</summary>
    public bool Started { get; private set; }

    /// <summary>What went wrong on the remote's side (its bus failed, or the set-up threw), or null.</summary>
    public Exception? Failure { get; private set; }

    public void Start() => _thread.Start();

    private void Run()
    {
        try
        {
            VirtioDeviceContext? context = new VdevTransport(_vdev, _memory, _doorbell)
                .WaitForDriver(VirtioRpmsgDevice.DefaultFeatures, _loop, TimeSpan.FromMinutes(15), _stop.Token);
            if (context is null) return;
            _loop.Start();
            _remote = new VirtioRpmsgRemote("armvm-remote", context);
            _remote.Start();
            _remote.CreateEndpoint(ArmVmLayout.EchoService, Echo, announce: true);
            Started = true;
        }
        catch (Exception e)
        {
            Failure = e;
        }
    }

    private void Echo(in RpmsgReceivedMessage message)
    {
        ReadOnlySpan<byte> p = message.Payload;
        for (int i = 0; i < p.Length; i++)
        {
            if (p[i] == ArmVmLayout.MessageByte(p.Length, i)) continue;
            if (Interlocked.Increment(ref _mismatched) == 1)
                Volatile.Write(ref _firstMismatch, $"message of {p.Length} bytes: byte {i} is 0x{p[i]:x2}, expected 0x{ArmVmLayout.MessageByte(p.Length, i):x2}");
            break;
        }
        if (message.Endpoint.PostTo(message.Source, p)) Interlocked.Increment(ref _echoed);
    }

    /// <summary>The remote bus's own failure while it ran (before <see cref="Dispose"/> stopped it), if it had one.</summary>
    public Exception? BusFailure => _disposed ? _failureAtStop : _remote?.Failure;

    private Exception? _failureAtStop;

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _stop.Cancel();
        _thread.Join(TimeSpan.FromSeconds(10));
        _failureAtStop = _remote?.Failure;   // stopping it sets a failure of its own ("was stopped")
        _loop.Dispose();
        _remote?.Dispose();
        _doorbell.Dispose();
        _stop.Dispose();
    }
}

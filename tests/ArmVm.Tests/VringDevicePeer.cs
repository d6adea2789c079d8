using AmpCan.SharedMem;
using AmpCan.Vring;

namespace AmpCan.Tests.ArmVm;

/// <summary>
/// The device side of the guest's split ring, on the host's mapping of the ivshmem file: it waits for the guest
/// driver's ready word, then serves every chain (checks the request byte for byte, answers with the request reversed
/// and complemented) until the driver writes its done word. Polls: ivshmem-plain has no interrupts.
/// </summary>
internal sealed class VringDevicePeer : IDisposable
{
    private readonly MappedRegion _shm;
    private readonly Thread _thread;
    private readonly CancellationTokenSource _stop = new();
    private bool _disposed;

    public VringDevicePeer(MappedRegion shm)
    {
        _shm = shm;
        _thread = new Thread(Run) { Name = "armvm-vring-device", IsBackground = true };
    }

    /// <summary>Chains served.</summary>
    public int Served { get; private set; }

    /// <summary>Requests whose bytes or shape were not what the guest should have sent.</summary>
    public List<string> Mismatches { get; } = [];

    /// <summary>What stopped the device early (a ring fault, an exception), or null.</summary>
    public Exception? Failure { get; private set; }

    /// <summary>Median time from finding a chain to publishing its used entry, in microseconds (the host's share of a round trip).</summary>
    public double MedianServiceMicroseconds { get; private set; }

    /// <summary>True once the driver wrote its done word.</summary>
    public bool DriverDone { get; private set; }

    public void Start() => _thread.Start();

    private void Run()
    {
        try
        {
            IoRegion io = _shm.Io;
            // The guest boots first: nothing rings, so the ready word is polled (the device must not read a ring the
            // driver has not initialised).
            while (io.ReadU32Acquire(ArmVmLayout.VringReadyOffset) != ArmVmLayout.DriverReady)
            {
                if (_stop.IsCancellationRequested) return;
                Thread.Sleep(1);
            }
            var memory = new MemoryMap(io);
            var device = new SplitVirtqueueDevice(SplitRing.Legacy(memory, ArmVmLayout.DeviceBase + ArmVmLayout.VringOffset, ArmVmLayout.VringSize, ArmVmLayout.VringAlign),
                memory, eventIndex: false, indirectDescriptors: false);
            byte[] expected = new byte[ArmVmLayout.MaxPayload];
            var spin = new SpinWait();
            var service = new List<double>();
            while (!_stop.IsCancellationRequested)
            {
                long found = System.Diagnostics.Stopwatch.GetTimestamp();
                if (device.TryPop(out DescriptorChain chain))
                {
                    int round = Served, len = ArmVmLayout.PayloadLength(round);
                    uint written = 0;
                    if (chain.ReadableCount != 1 || chain.Count != 2)
                        Mismatches.Add($"round trip {round}: chain of {chain.ReadableCount} readable + {chain.Count - chain.ReadableCount} writable buffers, expected 1 + 1");
                    else
                    {
                        Span<byte> request = chain.Readable[0].Span, response = chain.Writable[0].Span;
                        ArmVmLayout.FillRequest(round, expected.AsSpan(0, len));
                        int same = request.CommonPrefixLength(expected.AsSpan(0, len));
                        if (request.Length != len || same != len)
                            Mismatches.Add($"round trip {round}: request of {request.Length} bytes at 0x{chain.Readable[0].DeviceAddress:x}, expected {len}; first difference at byte {same}");
                        else if (response.Length < len)
                            Mismatches.Add($"round trip {round}: response buffer of {response.Length} bytes for {len}");
                        else
                        {
                            ArmVmLayout.FillResponse(request, response);
                            written = (uint)len;
                        }
                    }
                    device.AddUsed(chain.Head, written);
                    device.PublishUsed();
                    service.Add(System.Diagnostics.Stopwatch.GetElapsedTime(found).TotalMicroseconds);
                    Served++;
                    spin.Reset();
                }
                else if (_shm.Io.ReadU32Acquire(ArmVmLayout.VringDoneCountOffset + 4) == ArmVmLayout.DriverDone)
                {
                    DriverDone = true;
                    service.Sort();
                    MedianServiceMicroseconds = service.Count == 0 ? 0 : service[service.Count / 2];
                    return;
                }
                else spin.SpinOnce(sleep1Threshold: -1);   // the guest's next request follows at once: stay awake
            }
        }
        catch (Exception e)
        {
            Failure = e;
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _stop.Cancel();
        if (_thread.IsAlive && !_thread.Join(TimeSpan.FromSeconds(10))) Failure ??= new TimeoutException("the vring device thread did not stop");
        _stop.Dispose();
    }
}

using AmpCan.SharedMem.Doorbells;
using AmpCan.Vring;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AmpCan.Remoteproc;

/// <summary>
/// The remote's side of a resource-table vdev as an <see cref="IVirtioDeviceTransport"/>: waits in the background for
/// the host's DRIVER_OK (as OpenAMP's remote polls the status byte) and activates the device on the firmware's loop.
/// </summary>
public sealed class VdevDeviceTransport(VdevTransport vdev, IVirtioDevice device, NotificationLoop loop, TimeSpan waitForDriver, ILogger? logger = null)
    : IVirtioDeviceTransport
{
    private readonly CancellationTokenSource _stop = new();
    private readonly ILogger _logger = logger ?? NullLogger.Instance;
    private Task<bool>? _activation;
    private int _disposed;

    /// <inheritdoc/>
    public IVirtioDevice Device => device;

    /// <summary>True once the device was activated; false if the host did not set DRIVER_OK in time (or the transport was stopped first); faulted if the activation failed.</summary>
    public Task<bool> Activation => _activation ?? throw new InvalidOperationException("the transport has not started");

    /// <inheritdoc/>
    public void Start()
    {
        if (_activation is not null) throw new InvalidOperationException("already started");
        _activation = Task.Factory.StartNew(() =>
        {
            if (vdev.ActivateDevice(device, loop, waitForDriver, _stop.Token)) return true;
            if (!_stop.IsCancellationRequested)
                _logger.LogWarning("vdev {Index}: the host did not set DRIVER_OK within {Wait}", vdev.Vdev.Index, waitForDriver);
            return false;
        }, _stop.Token, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    /// <summary>Stops waiting and resets the device.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stop.Cancel();
        try { _activation?.Wait(); }
        catch (AggregateException) { } // the activation's own failure was reported through Activation
        device.Reset();
        _stop.Dispose();
    }
}

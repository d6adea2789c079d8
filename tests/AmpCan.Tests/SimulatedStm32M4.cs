using AmpCan.Remoteproc;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Simulation;
using static AmpCan.Tests.Host.Stm32BoardStandIn;

namespace AmpCan.Tests.Host;

/// <summary>
/// The STM32MP157's M4 as this machine can have it: a thread that waits for the start sequence to clear PDDS (nothing
/// else clears it), reads the vring addresses and the vdev's notify id from the table in memory at that moment, then
/// runs the simulated firmware on the memory the host loaded, reading the table the image put at mcuram2's base; it
/// maps that memory (mcuram2 through vdev0buffer, contiguous) from the same /dev/mem stand-in.
/// </summary>
internal sealed class SimulatedStm32M4 : IDisposable
{
    private const ulong McuRam2 = 0x1000_0000;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly Thread _thread;
    private readonly CancellationTokenSource _stop = new();
    private MappedRegion? _memory;
    private SimulatedRemote? _remote;

    public SimulatedStm32M4(Stm32BoardStandIn board)
    {
        _thread = new Thread(() => Run(board)) { IsBackground = true, Name = "simulated M4" };
        _thread.Start();
    }

    /// <summary>Set once the start sequence was seen (or the wait gave up, or the boot failed).</summary>
    public ManualResetEventSlim Released { get; } = new();

    /// <summary>Why the core did not boot, or null.</summary>
    public Exception? Failure { get; private set; }

    /// <summary>What the core found in its table when it was released.</summary>
    public (uint Vring0, uint Vring1, uint VdevNotifyId) SeenAtRelease { get; private set; }

    private void Run(Stm32BoardStandIn board)
    {
        try
        {
            using MappedRegion regs = board.MapRegisters();
            // Polls the register as the hardware would see it change; there is nothing to wait on in a file.
            if (!SpinWait.SpinUntil(() => _stop.IsCancellationRequested || (regs.Io.ReadU32Acquire(McuPdds) & 1) == 0, Patience) || _stop.IsCancellationRequested) return;
            _memory = MappedRegion.MapPhysical(McuRam2, 0x46000, McuRam2, board.PhysicalMemory);
            VdevResource vdev = ResourceTable.Parse(_memory.Io.Slice(0, 0x400)).Vdevs.First();
            SeenAtRelease = (vdev.Vring(0).DeviceAddress, vdev.Vring(1).DeviceAddress, vdev.NotifyId);
            _remote = new SimulatedRemote(_memory.Io, new PollingDoorbell(), SimulatedFirmware.For(board.Board) with { TableOffset = 0 }, NotificationMode.Polling);
            _remote.Boot(Patience, writeTable: false);
        }
        catch (Exception e)
        {
            Failure = e;
        }
        finally
        {
            Released.Set();
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _thread.Join();
        _remote?.Dispose();
        _memory?.Dispose();
        _stop.Dispose();
    }
}

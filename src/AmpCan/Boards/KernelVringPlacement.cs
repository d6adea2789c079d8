using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Boards;
using Microsoft.Extensions.Logging;

namespace AmpCan.Host.Boards;

/// <summary>
/// Vrings a table leaves to the host (FW_RSC_ADDR_ANY) in a core Linux's remoteproc started: the kernel put each in
/// the carveout named <c>vdev{N}vring{M}</c> (rproc_alloc_vring finds it by that name) but writes its address into the
/// table only when a virtio driver of its own binds (rp_find_vq), which AmpCan keeps off. The host writes it instead,
/// as that driver would have, from the board's region of that name.
/// </summary>
public static class KernelVringPlacement
{
    /// <summary>Writes the address of each ANY vring that has a region named after it; returns how many. The rest stay ANY (the transport then says so).</summary>
    public static int Apply(BoardDescriptor board, ResourceTable table, ILogger logger)
    {
        int placed = 0;
        for (int n = 0; n < table.Vdevs.Count; n++) // N counts vdevs in table order, as Linux's rvdev->index
        {
            VdevResource vdev = table.Vdevs[n];
            for (int m = 0; m < vdev.QueueCount; m++)
            {
                if (vdev.Vring(m).DeviceAddress != Remoteproc.Wire.ResourceTableLayout.AddressAny) continue;
                string name = CarveoutNames.Vring(n, m);
                if (board.EffectiveRegions.FirstOrDefault(r => r.Name == name) is not { } region) continue;
                if (region.DeviceAddress > uint.MaxValue)
                    throw new BoardException($"board '{board.Name}': region '{name}' at 0x{region.DeviceAddress:x} is beyond the table's 32-bit addresses");
                vdev.SetVringAddress(m, (uint)region.DeviceAddress);
                logger.LogInformation("board {Board}: vdev {Vdev} vring {Vring} placed by the kernel in region {Region} at 0x{Address:x}", board.Name, n, m, name, region.DeviceAddress);
                placed++;
            }
        }
        return placed;
    }
}

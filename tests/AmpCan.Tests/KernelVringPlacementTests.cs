using AmpCan.Host.Boards;
using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Boards;
using AmpCan.Rpmsg;
using AmpCan.SharedMem;
using Microsoft.Extensions.Logging.Abstractions;

namespace AmpCan.Tests.Host;

/// <summary>A kernel-started core's vrings left to the host are written where the kernel put them: its vdevNvringM carveouts.</summary>
public class KernelVringPlacementTests
{
    private const uint Any = 0xFFFF_FFFF;

    [Test]
    public void Vrings_left_to_the_host_get_the_address_of_the_region_named_after_them()
    {
        BoardDescriptor board = BoardDescriptor.Load(Path.Combine(TestContext.CurrentContext.TestDirectory, "boards", "stm32mp157c-dk2.json"));
        using MappedRegion mem = MappedRegion.CreateMemfd("kernel-vrings", 0x1000, 0x10000000);
        byte[] bytes = new ResourceTableBuilder()
            .Vdev(VirtioRpmsg.DeviceId, 0, 1, [new VringSpec(Any, 16, 16, 0), new VringSpec(Any, 16, 16, 1)])
            .Vdev(VirtioRpmsg.DeviceId, 2, 1, [new VringSpec(Any, 16, 16, 3)]) // vdev1vring0: the board has no such region
            .Build();
        mem.Io.Write(0, bytes);
        ResourceTable table = ResourceTable.Parse(mem.Io);

        Assert.That(KernelVringPlacement.Apply(board, table, NullLogger.Instance), Is.EqualTo(2));
        Assert.Multiple(() =>
        {
            Assert.That(table.Vdevs[0].Vring(0).DeviceAddress, Is.EqualTo(0x10040000u), "vdev0vring0@10040000");
            Assert.That(table.Vdevs[0].Vring(1).DeviceAddress, Is.EqualTo(0x10041000u), "vdev0vring1@10041000");
            Assert.That(table.Vdevs[1].Vring(0).DeviceAddress, Is.EqualTo(Any), "no region named after it: left ANY");
            // Written into the table itself (fw_rsc_vdev_vring.da at +28 of the first vdev entry), where the core reads it.
            uint entry = mem.Io.ReadU32(16);
            Assert.That(mem.Io.ReadU32(entry + 28), Is.EqualTo(0x10040000u));
            Assert.That(mem.Io.ReadU32(entry + 28 + 20), Is.EqualTo(0x10041000u));
        });
    }
}

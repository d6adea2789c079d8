using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Wire;
using AmpCan.SharedMem;

namespace AmpCan.Tests.Remoteproc.ResourceTables;

/// <summary>
/// A vring left to the host goes first to the window named after it (<c>vdev{N}vring{M}</c>, N counting vdevs), as
/// Linux's rproc_alloc_vring looks the carveout of that name up; without one, or where it does not fit, first fit.
/// </summary>
public sealed class NamedVringWindowTests
{
    private const uint Any = ResourceTableLayout.AddressAny;

    [Test]
    public void A_vring_goes_to_the_window_named_after_it_and_the_rest_first_fit()
    {
        using MappedRegion shm = MappedRegion.CreateMemfd("shm", 0x10000, 0x1000_0000);
        using MappedRegion named = MappedRegion.CreateMemfd("named", 0x1000, 0x1004_1000);
        using MappedRegion small = MappedRegion.CreateMemfd("small", 0x100, 0x1005_0000);
        byte[] bytes = new ResourceTableBuilder()
            .Vdev(7, Any, 1, [new VringSpec(Any, 16, 8, 0), new VringSpec(Any, 16, 8, 1)])   // vdev0
            .Vdev(7, Any, 1, [new VringSpec(Any, 16, 8, 2)])                                 // vdev1
            .Build();
        shm.Io.Write(0, bytes);
        ResourceTable table = ResourceTable.Parse(shm.Io.Slice(0, (ulong)bytes.Length));
        var allocator = new ResourceTableAllocator([
            new AllocationWindow(shm.Io, WindowUse.Vrings, Name: "shm"),
            new AllocationWindow(named.Io, WindowUse.Vrings, Name: "vdev0vring1"),
            new AllocationWindow(small.Io.Slice(0, 0x80), WindowUse.Vrings, Name: "vdev1vring0"), // 0x80 bytes: too small for the ring (230)
        ]);
        allocator.Apply(table);
        Assert.Multiple(() =>
        {
            Assert.That(table.Vdevs[0].Vring(1).DeviceAddress, Is.EqualTo(0x1004_1000u), "vdev0vring1 in its own window, though 'shm' comes first");
            Assert.That(table.Vdevs[0].Vring(0).DeviceAddress, Is.InRange(0x1000_0000u, 0x1000_FFFFu), "no window named vdev0vring0: first fit in 'shm'");
            Assert.That(table.Vdevs[1].Vring(0).DeviceAddress, Is.InRange(0x1000_0000u, 0x1000_FFFFu), "its named window is too small: first fit");
        });
    }
}

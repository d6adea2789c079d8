using System.Runtime.InteropServices;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Ordering;

namespace AmpCan.Tests.SharedMem.Ordering;

/// <summary>
/// The system barriers are mapped and callable on this machine, and every window carries the barrier strength its
/// peer needs: a remote core's (/dev/mem, UIO) System, a process's or guest's (memfd, file) inner-shareable.
/// </summary>
public class SystemBarriersTests
{
    [Test]
    public void TheBarrierCodeIsMappedAndRunsOnThisMachine()
    {
        Assert.That(SystemBarriers.Available, Is.True, SystemBarriers.Description);
        if (RuntimeInformation.ProcessArchitecture == Architecture.X64) Assert.That(SystemBarriers.Description, Does.Contain("mfence"));
        for (int i = 0; i < 1000; i++)
        {
            SystemBarriers.Full();
            SystemBarriers.Read();
            SystemBarriers.Write();
        }
    }

    [Test]
    public void MemfdWindowsUseInnerShareableBarriersAndAChosenDomainIsKeptBySlicesAndViews()
    {
        using var m = MappedRegion.CreateMemfd("barriers", 0x2000, deviceAddress: 0x8000);
        Assert.That(m.Io.Barriers, Is.EqualTo(BarrierDomain.InnerShareable));
        IoRegion remote = m.Io.WithBarriers(BarrierDomain.System);
        Assert.That(remote.Barriers, Is.EqualTo(BarrierDomain.System));
        Assert.That(remote.Slice(0x100, 0x100).Barriers, Is.EqualTo(BarrierDomain.System));
        Assert.That(remote.AsDeviceMemory().Barriers, Is.EqualTo(BarrierDomain.System));
        Assert.That(m.Io.WithBarriers(BarrierDomain.InnerShareable), Is.SameAs(m.Io));
        Assert.That(m.Io.Slice(0, 0x10).Barriers, Is.EqualTo(BarrierDomain.InnerShareable), "the mapping's own view is unchanged");
    }

    [Test]
    public void DevMemWindowsUseSystemBarriersAndTheirIndicesStillReadBackExactly()
    {
        string file = Path.Combine(Path.GetTempPath(), $"ampcan-devmem-{Environment.ProcessId}-{Guid.NewGuid():N}");
        File.WriteAllBytes(file, new byte[0x2000]);
        try
        {
            using MappedRegion r = MappedRegion.MapPhysical(0x1000, 0x1000, devMemPath: file);
            Assert.That(r.Io.Barriers, Is.EqualTo(BarrierDomain.System));
            Assert.That(r.ViewAt(0x4000).Barriers, Is.EqualTo(BarrierDomain.System));
            r.Io.WriteU16Release(2, 0xBEEF);
            r.Io.WriteU32Release(4, 0xCAFEF00D);
            r.Io.WriteU8Release(1, 0x5A);
            r.Io.Fence();
            Assert.That(r.Io.ReadU16Acquire(2), Is.EqualTo(0xBEEF));
            Assert.That(r.Io.ReadU32Acquire(4), Is.EqualTo(0xCAFEF00D));
            Assert.That(r.Io.ReadU8Acquire(1), Is.EqualTo(0x5A));
            Assert.That(File.ReadAllBytes(file)[0x1001..0x1008], Is.EqualTo(new byte[] { 0x5A, 0xEF, 0xBE, 0x0D, 0xF0, 0xFE, 0xCA }));
        }
        finally
        {
            File.Delete(file);
        }
    }
}

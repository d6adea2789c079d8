using System.Runtime.InteropServices;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Ordering;

namespace AmpCan.Tests.ArmProbe;

/// <summary>
/// The ivshmem BAR through the product's mappings: /dev/mem (MapPhysical, O_SYNC: Device-nGnRnE on arm64), then UIO if
/// uio_pci_generic offers BAR2 as a map, else the sysfs resource2 file. Each must show the host's pattern, carry the
/// Device attribute, and see the other mapping's writes.
/// </summary>
internal static class MapChecks
{
    public static int Run(string bdf)
    {
        DeviceBar bar = DeviceBar.Of(bdf, 2);
        Report.Info($"bar2 {bar}");
        using MappedRegion mem = MappedRegion.MapPhysical(bar.Start, bar.Size, ArmVmLayout.DeviceBase);
        if (mem.Kind != MappingKind.PhysicalWindow || mem.Size != bar.Size) return Report.Fail("devmem", $"region {mem}");
        if (mem.Io.Attributes != MemoryAttributes.Device) return Report.Fail("devmem", $"a /dev/mem window has attributes {mem.Io.Attributes}, not Device");
        ulong seen = mem.Io.ReadU64(ArmVmLayout.HostPatternOffset);
        if (seen != ArmVmLayout.HostPattern) return Report.Fail("devmem", $"read 0x{seen:x} at 0x{ArmVmLayout.HostPatternOffset:x}, expected the host's 0x{ArmVmLayout.HostPattern:x}");
        mem.Io.WriteU64(ArmVmLayout.DevMemPatternOffset, ArmVmLayout.DevMemPattern);
        Report.Pass("devmem", $"{mem}: host pattern read, guest pattern written");

        // A /dev/mem window's peer is a remote core: its index accesses and fences run the system barriers (dsb sy,
        // dmb oshld, dmb oshst), machine code mapped at start-up; here they must exist and execute on arm64.
        if (mem.Io.Barriers != BarrierDomain.System) return Report.Fail("barriers", $"a /dev/mem window has barriers {mem.Io.Barriers}, not System");
        if (!SystemBarriers.Available || RuntimeInformation.ProcessArchitecture != Architecture.Arm64 || !SystemBarriers.Description.StartsWith("arm64:", StringComparison.Ordinal))
            return Report.Fail("barriers", $"{RuntimeInformation.ProcessArchitecture}: {SystemBarriers.Description}");
        for (uint i = 0; i < 1000; i++)
        {
            mem.Io.WriteU32Release(ArmVmLayout.BarrierWordOffset, i);
            mem.Io.Fence();
            if (mem.Io.ReadU32Acquire(ArmVmLayout.BarrierWordOffset) != i) return Report.Fail("barriers", $"word {i} did not read back");
        }
        Report.Pass("barriers", SystemBarriers.Description);

        string uioDir = $"/sys/bus/pci/devices/{bdf}/uio";
        string? uio = Directory.Exists(uioDir) ? Directory.GetDirectories(uioDir).Select(Path.GetFileName).FirstOrDefault() : null;
        if (uio is null) return Report.Fail("uio", $"{bdf} is not bound to uio_pci_generic (no {uioDir})");
        int uioIndex = int.Parse(uio.AsSpan(3), provider: null);
        int? bar2Map = null;
        foreach (string map in Directory.GetDirectories($"/sys/class/uio/{uio}/maps").Order(StringComparer.Ordinal))
        {
            ulong addr = Convert.ToUInt64(File.ReadAllText(Path.Combine(map, "addr")).Trim(), 16);
            ulong size = Convert.ToUInt64(File.ReadAllText(Path.Combine(map, "size")).Trim(), 16);
            Report.Info($"uio-map {uio}/{Path.GetFileName(map)} addr 0x{addr:x} size 0x{size:x}");
            if (addr == bar.Start) bar2Map = int.Parse(Path.GetFileName(map).AsSpan(3), provider: null);
        }

        // BAR0 (the register block) is UIO map 0 whatever happens to BAR2: IVPosition reads 0 on ivshmem-plain.
        using (MappedRegion regs = MappedRegion.MapUio(uioIndex, 0))
        {
            if (regs.Io.Attributes != MemoryAttributes.Device) return Report.Fail("uio-regs", $"a UIO map has attributes {regs.Io.Attributes}");
            Report.Pass("uio-regs", $"{regs}: IVPosition {regs.Io.ReadU32(8)}");
        }

        MappedRegion second;
        string how;
        if (bar2Map is int m)
        {
            second = MappedRegion.MapUio(uioIndex, m, ArmVmLayout.DeviceBase);
            how = $"uio map{m}";
        }
        else
        {
            Report.Info($"uio-bar2 absent: uio_pci_generic does not offer BAR2 (64-bit prefetchable) as a UIO map; mapping sysfs resource2");
            // A sysfs resource file maps the BAR uncached (pgprot_device on arm64) but MapFile cannot know: the caller
            // marks it Device, as a board would.
            second = MappedRegion.MapFile($"/sys/bus/pci/devices/{bdf}/resource2", bar.Size, ArmVmLayout.DeviceBase);
            how = "resource2";
        }
        using (second)
        {
            IoRegion io = second.Io.Attributes == MemoryAttributes.Device ? second.Io : second.Io.AsDeviceMemory();
            if (io.ReadU64(ArmVmLayout.HostPatternOffset) != ArmVmLayout.HostPattern) return Report.Fail(how, "does not show the host's pattern");
            if (io.ReadU64(ArmVmLayout.DevMemPatternOffset) != ArmVmLayout.DevMemPattern) return Report.Fail(how, "does not show the /dev/mem write");
            io.WriteU64(ArmVmLayout.SecondMapPatternOffset, ArmVmLayout.SecondMapPattern);
            if (mem.Io.ReadU64Acquire(ArmVmLayout.SecondMapPatternOffset) != ArmVmLayout.SecondMapPattern) return Report.Fail(how, "its write is not visible through /dev/mem");
            Report.Pass("second-map", $"{how} {second}: same memory as /dev/mem both ways");
        }
        return 0;
    }
}

using System.Globalization;

namespace AmpCan.Tests.ArmProbe;

/// <summary>A PCI device's BAR as sysfs describes it (the kernel assigned it: read, never hard-coded).</summary>
internal sealed record DeviceBar(string Bdf, int Index, ulong Start, ulong Size, ulong Flags)
{
    /// <summary>Reads line <paramref name="index"/> of /sys/bus/pci/devices/BDF/resource ("start end flags").</summary>
    public static DeviceBar Of(string bdf, int index)
    {
        string[] lines = File.ReadAllLines($"/sys/bus/pci/devices/{bdf}/resource");
        string[] f = lines[index].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        ulong start = Hex(f[0]), end = Hex(f[1]);
        if (start == 0 || end < start) throw new InvalidOperationException($"{bdf} BAR{index} is not assigned: {lines[index]}");
        return new DeviceBar(bdf, index, start, end - start + 1, Hex(f[2]));
    }

    private static ulong Hex(string s) => ulong.Parse(s.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    /// <inheritdoc/>
    public override string ToString() => $"{Bdf} BAR{Index} 0x{Start:x}+0x{Size:x} flags 0x{Flags:x}";
}

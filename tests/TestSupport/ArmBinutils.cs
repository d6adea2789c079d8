using System.Globalization;
using System.Text.RegularExpressions;

namespace AmpCan.Tests;

/// <summary>A program header as <c>arm-none-eabi-readelf -lW</c> prints it (flags as printed: "R E", "RW").</summary>
internal sealed record ReadelfSegment(string Type, ulong Offset, ulong VirtualAddress, ulong PhysicalAddress, ulong FileSize, ulong MemorySize,
    string Flags, ulong Align);

/// <summary>A section header as <c>arm-none-eabi-readelf -SW</c> prints it (flags as printed: "AX", "WA").</summary>
internal sealed record ReadelfSection(string Name, string Type, ulong Address, ulong Offset, ulong Size, string Flags);

/// <summary>
/// A defined symbol as <c>arm-none-eabi-nm -S</c> prints it: the address without the Thumb bit (nm clears bit 0 of a
/// Thumb function's value; the vector table and e_entry keep it), the size when the symbol has one, nm's type letter.
/// </summary>
internal sealed record NmSymbol(string Name, ulong Address, ulong? Size, char Kind);

/// <summary>
/// What Debian's binutils-arm-none-eabi says about an ARM ELF image: the independent reading the tests hold AmpCan's
/// own reading against. Each call runs the tool with a time bound and fails the test when it exits non-zero.
/// </summary>
internal static partial class ArmBinutils
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    /// <summary>The program headers, in file order.</summary>
    public static IReadOnlyList<ReadelfSegment> Segments(string image) =>
        [.. Run("readelf", "-lW", image).Split('\n').Select(l => SegmentLine().Match(l)).Where(m => m.Success).Select(m => new ReadelfSegment(
            m.Groups["type"].Value, Hex(m, "off"), Hex(m, "vaddr"), Hex(m, "paddr"), Hex(m, "filesz"), Hex(m, "memsz"), m.Groups["flags"].Value.Trim(), Hex(m, "align")))];

    /// <summary>The named sections (the null section 0 left out), in file order.</summary>
    public static IReadOnlyList<ReadelfSection> Sections(string image) =>
        [.. Run("readelf", "-SW", image).Split('\n').Select(l => SectionLine().Match(l)).Where(m => m.Success).Select(m => new ReadelfSection(
            m.Groups["name"].Value, m.Groups["type"].Value, Hex(m, "addr"), Hex(m, "off"), Hex(m, "size"), m.Groups["flags"].Value))];

    /// <summary>The ELF header's entry point.</summary>
    public static ulong EntryPoint(string image)
    {
        Match m = EntryLine().Match(Run("readelf", "-hW", image));
        Assert.That(m.Success, Is.True, $"readelf -h printed no entry point for {image}");
        return Hex(m, "entry");
    }

    /// <summary>The defined symbols by name.</summary>
    public static IReadOnlyDictionary<string, NmSymbol> Symbols(string image)
    {
        var symbols = new Dictionary<string, NmSymbol>();
        foreach (string line in Run("nm", "-S", "--defined-only", image).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            // "ADDRESS SIZE TYPE NAME", or "ADDRESS TYPE NAME" for a symbol without a size (a linker script's).
            string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length is not (3 or 4)) continue;
            ulong? size = f.Length == 4 ? ulong.Parse(f[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture) : null;
            symbols[f[^1]] = new NmSymbol(f[^1], ulong.Parse(f[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture), size, f[^2][0]);
        }
        return symbols;
    }

    /// <summary>The bytes of one section, as <c>arm-none-eabi-objcopy -O binary --only-section</c> extracts them.</summary>
    public static byte[] SectionBytes(string image, string section)
    {
        string output = Path.Combine(Path.GetTempPath(), $"ampcan-section-{Guid.NewGuid():N}.bin");
        try
        {
            Run("objcopy", "-O", "binary", "--only-section=" + section, image, output);
            return File.ReadAllBytes(output);
        }
        finally
        {
            File.Delete(output);
        }
    }

    private static string Run(string tool, params string[] args)
    {
        var (code, stdout, stderr) = KernelVmHarness.Run("arm-none-eabi-" + tool, args, Bound, environment: new Dictionary<string, string> { ["LC_ALL"] = "C" });
        Assert.That(code, Is.Zero, $"arm-none-eabi-{tool} {string.Join(' ', args)} failed: {stderr}");
        return stdout;
    }

    private static ulong Hex(Match m, string group) => ulong.Parse(m.Groups[group].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    // "  LOAD           0x001000 0x00000000 0x00000000 0x00090 0x00090 R E 0x1000"
    [GeneratedRegex(@"^\s+(?<type>[A-Z_]+)\s+0x(?<off>[0-9a-f]+)\s+0x(?<vaddr>[0-9a-f]+)\s+0x(?<paddr>[0-9a-f]+)\s+0x(?<filesz>[0-9a-f]+)\s+0x(?<memsz>[0-9a-f]+)\s+(?<flags>[RWE ]+?)\s+0x(?<align>[0-9a-f]+)$")]
    private static partial Regex SegmentLine();

    // "  [ 4] .resource_table   PROGBITS        10000000 002000 00008c 00  WA  0   0  4"
    [GeneratedRegex(@"^\s*\[\s*[1-9]\d*\]\s+(?<name>\S+)\s+(?<type>\S+)\s+(?<addr>[0-9a-f]{8,16})\s+(?<off>[0-9a-f]+)\s+(?<size>[0-9a-f]+)\s+[0-9a-f]+\s+(?<flags>[A-Za-z]*)\s+\d+\s+\d+\s+\d+$")]
    private static partial Regex SectionLine();

    [GeneratedRegex(@"Entry point address:\s+0x(?<entry>[0-9a-f]+)")]
    private static partial Regex EntryLine();
}

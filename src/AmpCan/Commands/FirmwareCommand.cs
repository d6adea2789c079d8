using System.CommandLine;
using System.Globalization;
using System.IO.Hashing;
using System.Text;
using System.Text.Json;
using AmpCan.Host.Service;
using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Boards;
using AmpCan.Remoteproc.Firmware;
using AmpCan.Remoteproc.Wire;
using static AmpCan.Remoteproc.Firmware.Wire.ElfLayout;

namespace AmpCan.Host.Commands;

/// <summary><c>ampcan firmware inspect FILE</c>: what a field engineer checks in an image before deploying it.</summary>
internal static class FirmwareCommand
{
    /// <summary>Exit code when the image is sound but does not fit the board given with --board.</summary>
    public const int DoesNotFit = 2;

    public static Command Create()
    {
        var file = new Argument<string>("file") { Description = "The firmware ELF image (32- or 64-bit, little-endian)" };
        var json = new Option<bool>("--json") { Description = "Print one JSON document instead of text" };
        Option<string?> board = CommonOptions.Board("Also check that every PT_LOAD segment and the resource table fit this board's memory: a board file, or a name under boards/");
        var inspect = new Command("inspect", $"Show an image's segments, entry point, resource table and CRC-64 (exit {DoesNotFit} when it does not fit --board)") { file, json, board };
        inspect.SetAction(r => Inspect(r.GetValue(file)!, r.GetValue(json), r.GetValue(board), Console.Out));
        return new Command("firmware", "Firmware images for the remote core") { inspect };
    }

    /// <summary>Inspects <paramref name="path"/>; errors are <see cref="FirmwareException"/>s whose message starts with the path.</summary>
    public static int Inspect(string path, bool json, string? boardName, TextWriter output)
    {
        ElfImage image = ElfImage.Load(path);
        FirmwareResourceTable? table;
        try { table = FirmwareResourceTable.Decode(image); }
        catch (FirmwareException e)
        {
            throw new FirmwareException($"{path}: {e.Message}");
        }
        ulong crc = Crc64.HashToUInt64(image.Bytes.Span);
        BoardFit? fit = null;
        string? boardPath = null;
        if (boardName is not null)
        {
            boardPath = BoardFiles.Resolve(boardName);
            fit = BoardFit.Check(image, BoardDescriptor.Load(boardPath));
        }
        if (json) output.WriteLine(JsonSerializer.Serialize(Document(path, image, crc, table, fit, boardPath), JsonOptions));
        else WriteText(output, path, image, crc, table, fit, boardPath);
        return fit is { Fits: false } ? DoesNotFit : 0;
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    private static string Hex(ulong v) => $"0x{v:x}";

    private static string ClassName(ElfClass c) => c == ElfClass.Elf64 ? "ELF64" : "ELF32";

    private static string TypeName(ushort t) => t switch
    {
        TypeNone => "none", TypeRelocatable => "relocatable", TypeExecutable => "executable", TypeShared => "shared object", TypeCore => "core",
        _ => $"type 0x{t:x}",
    };

    // Sections that take memory at run time (SHF_ALLOC): what a field engineer compares with the board's map.
    private static IEnumerable<ElfSection> SectionsOfInterest(ElfImage image) =>
        image.Sections.Where(s => (s.Flags & 2) != 0 || s.Name == ResourceTableSection.SectionName);

    // Names come from the file: anything that is not printable is shown escaped so it cannot drive the terminal.
    private static string Printable(string s) =>
        string.Concat(s.Select(c => char.IsControl(c) || char.IsSurrogate(c) ? $"\\x{(int)c:x2}" : c.ToString()));

    private static object Document(string path, ElfImage image, ulong crc, FirmwareResourceTable? table, BoardFit? fit, string? boardPath) => new
    {
        File = path,
        Size = image.Bytes.Length,
        Crc64 = $"0x{crc:x16}",
        Class = ClassName(image.Class),
        Type = TypeName(image.Type),
        Machine = image.Machine,
        MachineName = ElfMachine.Name(image.Machine),
        Entry = Hex(image.Entry),
        Segments = image.Segments.Select(s => new
        {
            s.Index, Type = s.TypeName, Offset = Hex(s.Offset), Paddr = Hex(s.PhysicalAddress), Vaddr = Hex(s.VirtualAddress),
            FileSize = s.FileSize, MemorySize = s.MemorySize, Flags = s.FlagsText,
        }),
        Sections = SectionsOfInterest(image).Select(s => new
        {
            s.Index, s.Name, Type = s.HasFileBytes ? "bits" : "nobits", Address = Hex(s.Address), Offset = Hex(s.Offset), s.Size,
        }),
        ResourceTable = table is null ? null : new
        {
            Section = table.Location.SectionIndex, DeviceAddress = Hex(table.Location.DeviceAddress), FileOffset = Hex(table.Location.FileOffset),
            table.Location.Size, table.Version, Entries = table.EntryCount,
            Vdevs = table.Vdevs.Select(v => new
            {
                v.Index, v.Id, v.Name, v.NotifyId, DeviceFeatures = Hex(v.DeviceFeatures), v.ConfigLength,
                Vrings = v.Vrings.Select(r => new { r.Index, DeviceAddress = DaText(r.DeviceAddress), r.Align, Num = r.QueueSize, r.NotifyId }),
            }),
            Carveouts = table.Carveouts.Select(c => new
            {
                c.Index, Type = c.Type == ResourceType.DevMem ? "devmem" : "carveout", c.Name, DeviceAddress = DaText(c.DeviceAddress),
                PhysicalAddress = DaText(c.PhysicalAddress), c.Length, Flags = Hex(c.Flags),
            }),
            Traces = table.Traces.Select(t => new { t.Index, t.Name, DeviceAddress = DaText(t.DeviceAddress), t.Length }),
            Skipped = table.Skipped.Select(s => new { s.Index, s.Type, Offset = Hex(s.Offset), s.Description }),
        },
        Board = fit is null ? null : new
        {
            Name = fit.Board, File = boardPath, WindowAddress = Hex(fit.WindowAddress), WindowSize = fit.WindowSize, fit.Fits,
            Ranges = fit.Ranges.Select(r => new { r.What, DeviceAddress = Hex(r.DeviceAddress), r.Size, r.Fits }),
        },
    };

    // FW_RSC_ADDR_ANY means "the host allocates it": say so instead of printing 0xffffffff.
    private static string DaText(uint da) => da == ResourceTableLayout.AddressAny ? "any" : Hex(da);

    private static void WriteText(TextWriter o, string path, ElfImage image, ulong crc, FirmwareResourceTable? table, BoardFit? fit, string? boardPath)
    {
        var c = CultureInfo.InvariantCulture;
        o.WriteLine($"{path}: {ClassName(image.Class)} little-endian {TypeName(image.Type)}, machine {ElfMachine.Name(image.Machine)} ({image.Machine}), {image.Bytes.Length} bytes");
        o.WriteLine($"  entry point  {Hex(image.Entry)}");
        o.WriteLine($"  CRC-64       0x{crc:x16} (ECMA-182, System.IO.Hashing)");
        o.WriteLine();
        o.WriteLine($"Segments ({image.Segments.Count}):");
        o.WriteLine("  #   type          offset      paddr               vaddr               filesz      memsz       flags");
        foreach (ElfSegment s in image.Segments)
            o.WriteLine(string.Format(c, "  {0,-3} {1,-13} {2,-11} {3,-19} {4,-19} {5,-11} {6,-11} {7}", s.Index, s.TypeName, Hex(s.Offset),
                Hex(s.PhysicalAddress), Hex(s.VirtualAddress), Hex(s.FileSize), Hex(s.MemorySize), s.FlagsText));
        ElfSection[] sections = [.. SectionsOfInterest(image)];
        o.WriteLine();
        o.WriteLine($"Sections that take memory ({sections.Length} of {image.Sections.Count}):");
        o.WriteLine("  #   name                 address             offset      size        kind");
        foreach (ElfSection s in sections)
            o.WriteLine(string.Format(c, "  {0,-3} {1,-20} {2,-19} {3,-11} {4,-11} {5}", s.Index, Printable(s.Name), Hex(s.Address), Hex(s.Offset),
                Hex(s.Size), s.HasFileBytes ? "bits" : "nobits (zeroed)"));
        o.WriteLine();
        if (table is null) o.WriteLine("Resource table: none (no .resource_table section)");
        else WriteTable(o, table);
        if (fit is not null) WriteFit(o, fit, boardPath!);
    }

    private static void WriteTable(TextWriter o, FirmwareResourceTable t)
    {
        ResourceTableSection l = t.Location;
        o.WriteLine($"Resource table: section {l.SectionIndex} (.resource_table), device address {Hex(l.DeviceAddress)}, file offset {Hex(l.FileOffset)}, {l.Size} bytes, version {t.Version}, {t.EntryCount} entries");
        foreach (FirmwareVdev v in t.Vdevs)
        {
            o.WriteLine($"  [{v.Index}] vdev id {v.Id} ({v.Name}), notifyid {v.NotifyId}, dfeatures {Hex(v.DeviceFeatures)}, config {v.ConfigLength} bytes, {v.Vrings.Count} vrings");
            foreach (VringResource r in v.Vrings)
                o.WriteLine($"        vring {r.Index}: da {DaText(r.DeviceAddress)}, align {r.Align}, num {r.QueueSize}, notifyid {r.NotifyId}");
        }
        foreach (CarveoutResource cv in t.Carveouts)
            o.WriteLine($"  [{cv.Index}] {(cv.Type == ResourceType.DevMem ? "devmem" : "carveout")} \"{Printable(cv.Name)}\": da {DaText(cv.DeviceAddress)}, pa {DaText(cv.PhysicalAddress)}, len {Hex(cv.Length)}, flags {Hex(cv.Flags)}");
        foreach (TraceResource tr in t.Traces)
            o.WriteLine($"  [{tr.Index}] trace \"{Printable(tr.Name)}\": da {DaText(tr.DeviceAddress)}, len {Hex(tr.Length)}");
        foreach (SkippedResource s in t.Skipped)
            o.WriteLine($"  [{s.Index}] {s.Description}");
    }

    private static void WriteFit(TextWriter o, BoardFit fit, string boardPath)
    {
        o.WriteLine();
        o.WriteLine($"Board {Printable(fit.Board)} ({boardPath}): shared memory {Hex(fit.WindowAddress)}..{Hex(fit.WindowAddress + fit.WindowSize - 1)} ({Hex(fit.WindowSize)} bytes)");
        foreach (RangeFit r in fit.Ranges)
            o.WriteLine($"  {(r.Fits ? "fits    " : "OUTSIDE ")} {r.What}: {Hex(r.DeviceAddress)} + {Hex(r.Size)}");
        o.WriteLine(fit.Fits ? "  the image fits the board" : "  the image does NOT fit the board");
    }
}
